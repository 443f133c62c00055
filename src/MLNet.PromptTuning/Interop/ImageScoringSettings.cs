using MLNet.PromptTuning.Data;

namespace MLNet.PromptTuning.Interop;

/// <summary>What <see cref="ImageScoringCore"/> reads and writes, saved with the model.</summary>
/// <param name="ImageColumnName">The input image column.</param>
/// <param name="ScoreColumnName">The output score column (class probabilities).</param>
/// <param name="PredictedLabelColumnName">The output predicted-label column (key of the top class).</param>
/// <param name="BatchSize">Rows scored per call of the scorer when transforming a data view (≥ 1).
/// <c>PredictionEngine</c> scores one row at a time.</param>
/// <param name="Image">How image values become tensors.</param>
internal sealed record ImageScoringSettings(
    string ImageColumnName,
    string ScoreColumnName,
    string PredictedLabelColumnName,
    int BatchSize,
    ImageInputSpec Image)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(ImageColumnName);
        ArgumentException.ThrowIfNullOrEmpty(ScoreColumnName);
        ArgumentException.ThrowIfNullOrEmpty(PredictedLabelColumnName);
        if (ScoreColumnName == PredictedLabelColumnName)
        {
            throw new ArgumentException(
                $"The score and predicted-label columns must differ; both are '{ScoreColumnName}'.",
                nameof(PredictedLabelColumnName));
        }

        if (BatchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 1.");
        }

        ArgumentNullException.ThrowIfNull(Image);
        Image.Validate();
    }
}
