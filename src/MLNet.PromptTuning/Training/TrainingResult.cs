namespace MLNet.PromptTuning.Training;

/// <summary>The outcome of <see cref="ClassifierTrainer.Train"/>.</summary>
/// <param name="History">One entry per completed epoch, including epochs restored from a checkpoint.</param>
/// <param name="BestEpoch">1-based epoch with the highest validation accuracy (the first one on ties); the last
/// epoch when there is no validation set; 0 when <paramref name="History"/> is empty.</param>
/// <param name="BestValidationAccuracy">Validation accuracy of <paramref name="BestEpoch"/>; null without a validation
/// set.</param>
/// <param name="StoppedEarly">True when early stopping ended training before the last epoch.</param>
/// <param name="RestoredBestState">True when the trainable parameters were reset to those of <paramref
/// name="BestEpoch"/> (early stopping on and the best epoch was not the last).</param>
/// <param name="ResumedFromEpoch">Number of epochs restored from a checkpoint; 0 for a fresh run.</param>
public sealed record TrainingResult(
    IReadOnlyList<EpochSummary> History,
    int BestEpoch,
    double? BestValidationAccuracy,
    bool StoppedEarly,
    bool RestoredBestState,
    int ResumedFromEpoch)
{
    /// <summary>
    /// The result of a model that was not trained in this process, such as one loaded from a file: no epochs, best
    /// epoch 0. It stands in for a missing result so that reading <c>TrainingResult.History</c> needs no null check.
    /// </summary>
    public static TrainingResult Empty { get; } = new(Array.Empty<EpochSummary>(), 0, null, false, false, 0);
}
