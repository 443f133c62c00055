using System.Globalization;
using TorchSharp;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// Tracks the best validated epoch, decides when patience has run out, and keeps a copy of the best epoch's trainable
/// parameters (only when early stopping is on) so they can be restored at the end.
/// </summary>
internal sealed class EarlyStopping : IDisposable
{
    /// <summary>Tensor-name prefix of the best parameters, in memory and in checkpoints.</summary>
    public const string BestPrefix = "best/";

    private readonly int _patience;
    private readonly double _minDelta;
    private readonly int _maxEpoch;

    public EarlyStopping(int patience, double minDelta, int maxEpoch)
    {
        _patience = patience;
        _minDelta = minDelta;
        _maxEpoch = maxEpoch;
    }

    /// <summary>Copies of the best epoch's parameters, keyed <c>best/&lt;name&gt;</c> (empty unless early stopping is
    /// on).</summary>
    public Dictionary<string, torch.Tensor> BestParameters { get; } = new(StringComparer.Ordinal);

    public bool Enabled => _patience > 0;

    public int BestEpoch { get; set; }

    public double? BestAccuracy { get; set; }

    public int EpochsWithoutImprovement { get; set; }

    public bool Stopped { get; set; }

    /// <summary>
    /// Records an epoch's result. Returns a log line when this epoch ends the run, otherwise null. Without a
    /// validation accuracy the latest epoch counts as the best.
    /// </summary>
    public string? Update(EpochSummary summary, TrainableParameters parameters)
    {
        if (summary.ValidationAccuracy is not { } accuracy)
        {
            BestEpoch = summary.Epoch;
            return null;
        }

        if (BestAccuracy is not { } previous || accuracy > previous + _minDelta)
        {
            BestAccuracy = accuracy;
            BestEpoch = summary.Epoch;
            EpochsWithoutImprovement = 0;
            if (Enabled)
            {
                parameters.CopyInto(BestParameters, BestPrefix);
            }

            return null;
        }

        EpochsWithoutImprovement++;
        if (!Enabled || EpochsWithoutImprovement < _patience || summary.Epoch >= _maxEpoch)
        {
            return null;
        }

        Stopped = true;
        return string.Create(CultureInfo.InvariantCulture,
            $"Early stopping after epoch {summary.Epoch}: no validation gain above {_minDelta:G4} for " +
            $"{EpochsWithoutImprovement} epochs (best {BestAccuracy:P2} at epoch {BestEpoch}).");
    }

    /// <summary>True when the run should end on the best epoch's parameters rather than the last epoch's.</summary>
    public bool ShouldRestore(int epochsCompleted) => Enabled && BestEpoch > 0 && BestEpoch != epochsCompleted;

    public void RestoreBest(TrainableParameters parameters) => parameters.RestoreFrom(BestParameters, BestPrefix);

    public void Dispose()
    {
        foreach (var tensor in BestParameters.Values)
        {
            tensor.Dispose();
        }

        BestParameters.Clear();
    }
}
