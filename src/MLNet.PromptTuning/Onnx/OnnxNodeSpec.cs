namespace MLNet.PromptTuning.Onnx;

/// <summary>
/// One operator of an <see cref="OnnxGraph"/> in the default ONNX domain. Attribute values are <see cref="long"/>,
/// <see cref="long"/>[], <see cref="float"/> or <see cref="string"/>.
/// </summary>
internal sealed record OnnxNodeSpec(
    string OpType,
    IReadOnlyList<string> Inputs,
    IReadOnlyList<string> Outputs,
    IReadOnlyList<KeyValuePair<string, object>> Attributes);
