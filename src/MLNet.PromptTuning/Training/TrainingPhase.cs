namespace MLNet.PromptTuning.Training;

/// <summary>What a <see cref="TrainingProgress"/> report is about.</summary>
public enum TrainingPhase
{
    /// <summary>An optimisation step finished.</summary>
    Training,

    /// <summary>Validation at the end of an epoch finished.</summary>
    Validation,

    /// <summary>Training finished (all epochs ran, early stopping triggered, or a finished run was resumed).</summary>
    Completed,
}
