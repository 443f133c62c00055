using TorchSharp;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// What one forward pass of a trainable classifier returns: the logits and any auxiliary losses the method asks
/// the trainer to add to the objective (already multiplied by their weights).
/// </summary>
/// <param name="Logits">Class scores before softmax, [B, C].</param>
/// <param name="AuxiliaryLosses">Named scalar losses, each already weighted; empty for most methods.</param>
public sealed record ClassifierOutput(torch.Tensor Logits, IReadOnlyList<AuxiliaryLoss> AuxiliaryLosses);

/// <summary>A named, already-weighted scalar loss term contributed by a prompt method (for example TCPA's key
/// pull).</summary>
/// <param name="Name">Name used in progress reports.</param>
/// <param name="Value">Scalar tensor, already multiplied by its weight.</param>
public sealed record AuxiliaryLoss(string Name, torch.Tensor Value);
