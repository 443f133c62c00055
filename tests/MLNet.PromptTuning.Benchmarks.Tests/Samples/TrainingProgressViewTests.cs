using System.Globalization;
using MLNet.PromptTuning.Samples;
using MLNet.PromptTuning.Training;
using Xunit;

namespace MLNet.PromptTuning.Benchmarks.Tests.Samples;

/// <summary>The samples' progress display when output is not a terminal: exactly one plain line per epoch.</summary>
public sealed class TrainingProgressViewTests
{
    private static readonly IReadOnlyDictionary<string, double> NoLosses = new Dictionary<string, double>();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Plain_output_has_one_line_per_epoch(bool validate)
    {
        using var output = new StringWriter();
        var view = TrainingProgressView.Plain(output);
        view.Prefix = "vpt seed 1";

        Train(view, epochs: 3, stepsPerEpoch: 4, validate);

        var lines = output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        for (int epoch = 1; epoch <= 3; epoch++)
        {
            var line = lines[epoch - 1];
            Assert.StartsWith($"vpt seed 1 · epoch {epoch}/3 · loss ", line, StringComparison.Ordinal);
            Assert.DoesNotContain('\r', line);
            string accuracy = string.Create(CultureInfo.InvariantCulture, $"validation {0.5 + (epoch / 10.0):P2}");
            Assert.Equal(validate, line.Contains(accuracy, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void A_line_written_between_runs_keeps_its_place()
    {
        using var output = new StringWriter();
        var view = TrainingProgressView.Plain(output);

        Train(view, epochs: 2, stepsPerEpoch: 3, validate: false);
        view.Line("run 1: test 80.00 %");
        Train(view, epochs: 1, stepsPerEpoch: 3, validate: true);

        var lines = output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("epoch 2/2", lines[1], StringComparison.Ordinal);
        Assert.Equal("run 1: test 80.00 %", lines[2]);
        Assert.StartsWith("epoch 1/1", lines[3], StringComparison.Ordinal);
    }

    // The reports ClassifierTrainer sends: one per step, one per validated epoch, one at the end.
    private static void Train(IProgress<TrainingProgress> progress, int epochs, int stepsPerEpoch, bool validate)
    {
        long total = (long)epochs * stepsPerEpoch;
        double? accuracy = null;
        for (int epoch = 1; epoch <= epochs; epoch++)
        {
            for (int step = 1; step <= stepsPerEpoch; step++)
            {
                long global = ((epoch - 1) * stepsPerEpoch) + step;
                progress.Report(new TrainingProgress(TrainingPhase.Training, epoch, epochs, global, total,
                    1.0 / global, NoLosses, 0.01, accuracy, 100, TimeSpan.FromSeconds(total - global)));
            }

            if (validate)
            {
                accuracy = 0.5 + (epoch / 10.0);
                progress.Report(new TrainingProgress(TrainingPhase.Validation, epoch, epochs, epoch * stepsPerEpoch,
                    total, null, NoLosses, 0.01, accuracy, 100, TimeSpan.Zero));
            }
        }

        progress.Report(new TrainingProgress(TrainingPhase.Completed, epochs, epochs, total, total, null, NoLosses,
            0.01, accuracy, 100, TimeSpan.Zero));
    }
}
