namespace MLNet.PromptTuning.Training;

/// <summary>Severity of a training log line.</summary>
public enum TrainingLogLevel
{
    /// <summary>Progress and configuration.</summary>
    Information,

    /// <summary>Something the user should look at (for example a resumed run or a questionable setting).</summary>
    Warning,
}
