using TorchSharp.Modules;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// A set of trainable parameters that share optimiser settings, like a PyTorch parameter group. Methods use groups
/// to keep weight decay off raw prompt tokens, gates and biases, as timm's <c>no_weight_decay</c> does.
/// </summary>
/// <param name="Name">Short name for logs and checkpoints, for example <c>prompt.vpt</c> or <c>head</c>.</param>
/// <param name="Parameters">The parameters, in a stable order.</param>
/// <param name="ApplyWeightDecay">Whether the trainer's weight decay applies to this group.</param>
/// <param name="LearningRateScale">Multiplier on the trainer's learning rate for this group (1 = unchanged).</param>
public sealed record ParameterGroup(
    string Name,
    IReadOnlyList<Parameter> Parameters,
    bool ApplyWeightDecay = true,
    double LearningRateScale = 1.0);
