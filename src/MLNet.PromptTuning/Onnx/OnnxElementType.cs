namespace MLNet.PromptTuning.Onnx;

/// <summary>ONNX tensor element types the exported graphs use (values of ONNX's <c>TensorProto.DataType</c>).
/// </summary>
public enum OnnxElementType : long
{
    /// <summary>32-bit IEEE float.</summary>
    Float = 1,

    /// <summary>Unsigned 8-bit integer.</summary>
    UInt8 = 2,

    /// <summary>Signed 32-bit integer.</summary>
    Int32 = 6,

    /// <summary>Signed 64-bit integer.</summary>
    Int64 = 7,

    /// <summary>Unsigned 32-bit integer (ML.NET's key type).</summary>
    UInt32 = 12,
}
