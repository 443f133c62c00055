namespace MLNet.PromptTuning.Onnx;

/// <summary>
/// One block's frozen self-attention weights as graph constants, the export-time twin of
/// <see cref="Prompting.FrozenAttentionWeights"/>. Linear weights are stored transposed ([in, out]) for
/// <see cref="OnnxGraph.MatMul"/>; slice columns to take the q, k or v part.
/// </summary>
/// <param name="QkvWeightTransposed">Fused [q | k | v] projection, [D, 3D].</param>
/// <param name="QkvBias">Fused projection bias [3D], or null when the backbone has none.</param>
/// <param name="ProjWeightTransposed">Output projection, [D, D].</param>
/// <param name="ProjBias">Output projection bias, [D].</param>
public sealed record OnnxAttentionWeights(
    OnnxValue QkvWeightTransposed, OnnxValue? QkvBias, OnnxValue ProjWeightTransposed, OnnxValue ProjBias);
