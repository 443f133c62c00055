namespace MLNet.PromptTuning.Training;

/// <summary>A progress report from <see cref="ClassifierTrainer"/>, sent after every step and every
/// validation.</summary>
/// <param name="Phase">What finished.</param>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="TotalEpochs">Number of epochs configured.</param>
/// <param name="Step">1-based optimisation step counted over the whole run.</param>
/// <param name="TotalSteps">Steps of the whole run (epochs × batches per epoch).</param>
/// <param name="Loss">Objective of the last step (cross-entropy plus auxiliary losses); null in other phases.</param>
/// <param name="AuxiliaryLosses">The auxiliary loss values of the last step by name (empty when none).</param>
/// <param name="LearningRate">Base learning rate of the last step (before per-group scales).</param>
/// <param name="ValidationAccuracy">Validation top-1 accuracy in [0, 1] of the latest validated epoch, if any.</param>
/// <param name="ImagesPerSecond">Training throughput measured over this run's steps so far.</param>
/// <param name="EstimatedTimeRemaining">Time left for the remaining steps at the measured rate (validation not
/// included); null before the first step.</param>
public sealed record TrainingProgress(
    TrainingPhase Phase,
    int Epoch,
    int TotalEpochs,
    long Step,
    long TotalSteps,
    double? Loss,
    IReadOnlyDictionary<string, double> AuxiliaryLosses,
    double LearningRate,
    double? ValidationAccuracy,
    double ImagesPerSecond,
    TimeSpan? EstimatedTimeRemaining);
