using System.Globalization;
using MLNet.PromptTuning.Training;

namespace MLNet.PromptTuning.Samples.VtabRunner;

/// <summary>
/// The runner's progress display: on a terminal one line rewritten in place (unit, epoch, step, loss, speed, time
/// left); otherwise (redirected output, logs) one line per finished epoch.
/// </summary>
internal sealed class ConsoleProgress : IProgress<TrainingProgress>
{
    private readonly TextWriter _output;
    private readonly bool _interactive;
    private int _lastEpochReported;
    private int _width;

    public ConsoleProgress(TextWriter output, bool interactive)
    {
        _output = output;
        _interactive = interactive;
    }

    /// <summary>What is running, for example <c>[3/40] dtd · vpt · search lr=5 wd=0</c>.</summary>
    public string Prefix { get; set; } = "";

    public void Report(TrainingProgress p)
    {
        bool epochEnd = p.Phase == TrainingPhase.Training && p.TotalSteps > 0 &&
            p.Step % Math.Max(1, p.TotalSteps / p.TotalEpochs) == 0;
        var text = FormattableString.Invariant($"{Prefix} · epoch {p.Epoch}/{p.TotalEpochs} · step ") +
            FormattableString.Invariant($"{p.Step}/{p.TotalSteps}") +
            (p.Loss is { } loss ? FormattableString.Invariant($" · loss {loss:F4}") : "") +
            FormattableString.Invariant($" · {p.ImagesPerSecond:F0} img/s") +
            (p.EstimatedTimeRemaining is { } eta ? " · " + eta.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture)
                + " left" : "");
        if (_interactive)
        {
            _output.Write("\r" + text.PadRight(_width));
            _width = Math.Max(_width, text.Length);
        }
        else if (epochEnd && p.Epoch != _lastEpochReported)
        {
            _lastEpochReported = p.Epoch;
            _output.WriteLine(text);
        }
    }

    /// <summary>Ends the in-place line (if any) and writes <paramref name="message"/> on its own line.</summary>
    public void Line(string message)
    {
        if (_interactive && _width > 0)
        {
            _output.Write("\r" + new string(' ', _width) + "\r");
            _width = 0;
        }

        _lastEpochReported = 0;
        _output.WriteLine(message);
    }
}
