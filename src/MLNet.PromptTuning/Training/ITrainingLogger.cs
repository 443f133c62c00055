namespace MLNet.PromptTuning.Training;

/// <summary>
/// Receives the training engine's log lines. The ML.NET layer forwards them to its channels; tests can collect them.
/// </summary>
public interface ITrainingLogger
{
    /// <summary>Writes one line.</summary>
    /// <param name="level">Severity.</param>
    /// <param name="message">The text, without a trailing newline.</param>
    void Log(TrainingLogLevel level, string message);
}
