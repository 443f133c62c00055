namespace MLNet.PromptTuning.Onnx;

/// <summary>A constant tensor of an <see cref="OnnxGraph"/>: float32, int64 or int32 values, row-major.</summary>
internal sealed record OnnxInitializer(string Name, long[] Dims, float[]? Floats, long[]? Int64s, int[]? Int32s)
{
    /// <summary>Bytes the values take in the model file.</summary>
    public long ByteCount =>
        (Floats?.LongLength ?? 0) * 4 + (Int64s?.LongLength ?? 0) * 8 + (Int32s?.LongLength ?? 0) * 4;
}
