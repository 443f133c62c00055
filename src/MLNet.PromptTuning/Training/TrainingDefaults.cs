namespace MLNet.PromptTuning.Training;

/// <summary>
/// The peak learning rate and warm-up a model trains well with. The engine uses them for
/// <see cref="TrainingOptions.LearningRate"/> and <see cref="TrainingOptions.WarmupEpochs"/> when those are left
/// unset; a prompt-tuned model takes them from its method's options, so each method states its own.
/// </summary>
/// <param name="LearningRate">Peak learning rate after warm-up; positive.</param>
/// <param name="WarmupEpochs">Epochs of linear warm-up; at least 0 (capped at the number of epochs when used).</param>
public sealed record TrainingDefaults(double LearningRate, double WarmupEpochs)
{
    /// <summary>What the engine uses for a model that states no defaults of its own: 1e-3 and 1 epoch of
    /// warm-up.</summary>
    public static TrainingDefaults Generic { get; } = new(1e-3, 1);
}
