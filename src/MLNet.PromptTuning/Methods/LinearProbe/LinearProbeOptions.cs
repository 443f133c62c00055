using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;

namespace MLNet.PromptTuning.Methods.LinearProbe;

/// <summary>Options of the linear probe: a frozen backbone and a trained linear head on its features. There are no
/// method options.</summary>
public sealed class LinearProbeOptions : PromptMethodOptions
{
    /// <summary>The registry id, <c>linear</c>.</summary>
    public const string Id = "linear";

    /// <inheritdoc/>
    public override string MethodId => Id;

    /// <summary>
    /// Peak learning rate 0.05 with 2 warm-up epochs (AdamW, batch 32, cosine decay), used when the trainer's
    /// <c>LearningRate</c> and <c>WarmupEpochs</c> are left unset: a head alone needs about ten times the prompt
    /// methods' rate.
    /// </summary>
    public override TrainingDefaults TrainingDefaults => new(LearningRate: 0.05, WarmupEpochs: 2);
}
