namespace MLNet.PromptTuning.Training;

/// <summary>What one epoch achieved.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="TrainLoss">Mean objective over the epoch's images (cross-entropy with label smoothing plus
/// auxiliary losses), computed on training batches while the weights changed.</param>
/// <param name="TrainAccuracy">Top-1 accuracy on the training batches, in [0, 1] (with augmentation, if
/// enabled).</param>
/// <param name="AuxiliaryLosses">Mean of each auxiliary loss over the epoch's images, by name.</param>
/// <param name="LearningRate">Base learning rate of the epoch's last step.</param>
/// <param name="ValidationAccuracy">Top-1 accuracy on the validation set after the epoch; null without a validation
/// set.</param>
/// <param name="Duration">Wall-clock time of the epoch including validation.</param>
public sealed record EpochSummary(
    int Epoch,
    double TrainLoss,
    double TrainAccuracy,
    IReadOnlyDictionary<string, double> AuxiliaryLosses,
    double LearningRate,
    double? ValidationAccuracy,
    TimeSpan Duration);
