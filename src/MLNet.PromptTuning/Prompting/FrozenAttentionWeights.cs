using static TorchSharp.torch;

namespace MLNet.PromptTuning.Prompting;

/// <summary>
/// Detached copies of one block's pretrained self-attention weights, in PyTorch (out, in) layout, for methods that
/// initialise their own modules from them (CVPT).
/// </summary>
/// <param name="QkvWeight">Fused [q; k; v] projection weight, [3D, D].</param>
/// <param name="QkvBias">Fused projection bias, [3D], or null when the backbone has no qkv bias.</param>
/// <param name="ProjWeight">Output projection weight, [D, D].</param>
/// <param name="ProjBias">Output projection bias, [D].</param>
public sealed record FrozenAttentionWeights(Tensor QkvWeight, Tensor? QkvBias, Tensor ProjWeight, Tensor ProjBias);
