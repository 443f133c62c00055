namespace MLNet.PromptTuning.Onnx;

/// <summary>A tensor in an ONNX graph under construction, referred to by its unique name.</summary>
/// <param name="Name">The value's name in the graph.</param>
public readonly record struct OnnxValue(string Name)
{
    /// <inheritdoc/>
    public override string ToString() => Name;
}
