namespace MLNet.PromptTuning.Checkpoints;

/// <summary>One entry of a safetensors header, after validation.</summary>
/// <param name="Name">The tensor's key.</param>
/// <param name="DType">The safetensors dtype name, for example <c>F32</c>, <c>BF16</c> or <c>I64</c>.</param>
/// <param name="Shape">The dimensions; empty for a scalar.</param>
/// <param name="DataBegin">Start of the data, in bytes from the start of the data buffer (after the header).</param>
/// <param name="DataEnd">End of the data (exclusive), in bytes from the start of the data buffer.</param>
public sealed record SafeTensorInfo(string Name, string DType, IReadOnlyList<long> Shape, long DataBegin, long DataEnd)
{
    /// <summary>Number of elements (1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The shape as <c>[a, b, c]</c>, as used in messages.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
