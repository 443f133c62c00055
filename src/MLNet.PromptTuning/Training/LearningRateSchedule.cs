namespace MLNet.PromptTuning.Training;

/// <summary>How the learning rate changes over training. Every schedule starts with the linear warmup of
/// <see cref="TrainingOptions.WarmupEpochs"/>.</summary>
public enum LearningRateSchedule
{
    /// <summary>
    /// Per optimisation step: linear warmup, then half-cosine decay to 0. With <c>W</c> warmup steps and <c>T</c>
    /// steps in total, step <c>s</c> (0-based) uses <c>lr·(s+1)/W</c> while <c>s &lt; W</c>, then
    /// <c>lr·½(1 + cos(π(s−W)/(T−W)))</c>; the rate would reach 0 at step <c>T</c>, just after the last step.
    /// </summary>
    Cosine,

    /// <summary>
    /// Per epoch, as the official VPT code (a <c>LambdaLR</c> stepped once per epoch): epoch <c>e</c> (0-based) uses
    /// <c>lr·e/W</c> while <c>e &lt; W</c> (so epoch 0 runs at rate 0), then <c>lr·½(1 + cos(π(e−W)/(E−W)))</c>.
    /// </summary>
    CosinePerEpoch,

    /// <summary>Per step: the same linear warmup as <see cref="Cosine"/>, then the constant base rate.</summary>
    Constant,
}
