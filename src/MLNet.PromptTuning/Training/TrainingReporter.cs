using System.Globalization;
using TorchSharp;

namespace MLNet.PromptTuning.Training;

/// <summary>Everything a run tells the outside: log lines, progress reports and the per-epoch callback.</summary>
internal sealed class TrainingReporter
{
    private static readonly IReadOnlyDictionary<string, double> NoLosses = new Dictionary<string, double>();

    private readonly ITrainingLogger? _logger;
    private readonly IProgress<TrainingProgress>? _progress;
    private readonly Action<EpochSummary>? _epochCompleted;

    public TrainingReporter(ITrainingLogger? logger, IProgress<TrainingProgress>? progress,
        Action<EpochSummary>? epochCompleted)
    {
        _logger = logger;
        _progress = progress;
        _epochCompleted = epochCompleted;
    }

    public ThroughputClock Clock { get; } = new();

    public void Log(TrainingLogLevel level, string message) => _logger?.Log(level, message);

    public void RunStarting(TrainingRun run, IReadOnlyList<ParameterGroup> groups)
    {
        var o = run.Options;
        var device = run.Device;
        string where = device.type.ToString().ToLowerInvariant() + (device.index >= 0 ? ":" + device.index : "");
        Log(TrainingLogLevel.Information,
            Inv($"Training on {run.Train.Count} images ({run.StepsPerEpoch} steps of {o.BatchSize} per epoch) ") +
            Inv($"for {o.MaxEpoch} epochs on {where}, {run.Threads} threads, {o.Precision}, {o.Optimizer} ") +
            Inv($"lr {run.LearningRate:G4} (warm-up {run.WarmupEpochs:G4} epochs) wd {o.WeightDecay:G4}") +
            (run.Mixup is null ? ""
                : Inv($", mixup α {o.MixupAlpha:G4} on {o.MixupProbability * 100:G4}% of batches")) +
            (o.LabelSmoothing > 0 ? Inv($", label smoothing {o.LabelSmoothing:G4}") : "") + "; trainable: " +
            string.Join(", ", groups.Select(g => Inv($"{g.Name} {g.Parameters.Sum(p => p.numel())}"))) +
            (run.Validation is null ? "" : Inv($"; validating on {run.Validation.Count} images")) + ".");
    }

    public void StepFinished(TrainingRun run, int epoch, double loss, IReadOnlyDictionary<string, double> auxiliary,
        double rate)
    {
        var lastAccuracy = run.History.Count > 0 ? run.History[^1].ValidationAccuracy : null;
        Report(run, TrainingPhase.Training, epoch + 1, loss, auxiliary, rate, lastAccuracy);
        int every = run.Options.LogEveryNSteps;
        if (every > 0 && run.GlobalStep % every == 0)
        {
            Log(TrainingLogLevel.Information, Inv(
                $"epoch {epoch + 1}/{run.Options.MaxEpoch} step {run.GlobalStep}/{run.TotalSteps}: loss {loss:F4}, ") +
                Inv($"lr {rate:G4}, {Clock.ImagesPerSecond:F1} img/s"));
        }
    }

    public void EpochFinished(TrainingRun run, EpochSummary summary)
    {
        if (summary.ValidationAccuracy is { } accuracy)
        {
            Report(run, TrainingPhase.Validation, summary.Epoch, null, NoLosses, summary.LearningRate, accuracy);
        }

        var aux = summary.AuxiliaryLosses.Count == 0
            ? ""
            : ", " + string.Join(", ", summary.AuxiliaryLosses.Select(kv => Inv($"{kv.Key} {kv.Value:F4}")));
        var validation = summary.ValidationAccuracy is { } a ? Inv($", validation accuracy {a:P2}") : "";
        Log(TrainingLogLevel.Information,
            Inv($"epoch {summary.Epoch}/{run.Options.MaxEpoch}: train loss {summary.TrainLoss:F4}{aux}, ") +
            Inv($"train accuracy {summary.TrainAccuracy:P2}{validation}, lr {summary.LearningRate:G4}, ") +
            Inv($"{summary.Duration.TotalSeconds:F1} s"));
        _epochCompleted?.Invoke(summary);
    }

    public void RunFinished(TrainingRun run)
    {
        var last = run.History.Count > 0 ? run.History[^1] : null;
        Report(run, TrainingPhase.Completed, run.EpochsCompleted, null, NoLosses, last?.LearningRate ?? 0,
            last?.ValidationAccuracy);
    }

    private void Report(TrainingRun run, TrainingPhase phase, int epoch, double? loss,
        IReadOnlyDictionary<string, double> auxiliary, double rate, double? accuracy)
    {
        long remaining = phase == TrainingPhase.Completed ? 0 : run.TotalSteps - run.GlobalStep;
        _progress?.Report(new TrainingProgress(phase, epoch, run.Options.MaxEpoch, run.GlobalStep, run.TotalSteps, loss,
            auxiliary, rate, accuracy, Clock.ImagesPerSecond, Clock.Estimate(remaining)));
    }

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
