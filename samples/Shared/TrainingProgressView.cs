using System.Globalization;
using MLNet.PromptTuning.Training;
using Spectre.Console;

namespace MLNet.PromptTuning.Samples;

/// <summary>
/// Shows training progress. On a terminal: a live Spectre.Console progress bar (what runs, epoch, loss, speed, time
/// left). Otherwise (output redirected to a file, CI): exactly one plain line per finished epoch, so logs stay
/// readable.
/// </summary>
internal sealed class TrainingProgressView : IProgress<TrainingProgress>
{
    private readonly IAnsiConsole? _live;
    private readonly TextWriter? _plain;
    private readonly object _gate = new();
    private ProgressTask? _task;
    private string? _pendingEpochLine;
    private int _pendingEpoch;

    private TrainingProgressView(IAnsiConsole? live, TextWriter? plain)
    {
        _live = live;
        _plain = plain;
    }

    /// <summary>Whether standard output is an interactive terminal that can redraw a progress bar.</summary>
    public static bool OutputIsTerminal =>
        !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive &&
        AnsiConsole.Profile.Capabilities.Ansi;

    /// <summary>What is running, shown before every progress line (for example <c>[3/40] dtd · vpt</c>).</summary>
    public string Prefix { get; set; } = "";

    /// <summary>Whether the view redraws a live bar (false: plain lines).</summary>
    public bool IsLive => _live is not null;

    /// <summary>The view for this process's standard output: live on a terminal, plain otherwise.</summary>
    public static TrainingProgressView ForConsole() =>
        OutputIsTerminal ? Live(AnsiConsole.Console) : Plain(Console.Out);

    /// <summary>A view that draws a live progress bar on <paramref name="console"/>.</summary>
    public static TrainingProgressView Live(IAnsiConsole console) => new(console, null);

    /// <summary>A view that writes one line per epoch to <paramref name="output"/>.</summary>
    public static TrainingProgressView Plain(TextWriter output) => new(null, output);

    /// <inheritdoc cref="Run{T}(Func{T})"/>
    public void Run(Action work) => Run(() =>
    {
        work();
        return true;
    });

    /// <summary>
    /// Runs <paramref name="work"/> with the live bar on screen (the bar stays, finished, when it returns); in plain
    /// mode just runs it.
    /// </summary>
    public T Run<T>(Func<T> work)
    {
        if (_live is null)
        {
            return work();
        }

        return _live.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(),
                new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                lock (_gate)
                {
                    _task = context.AddTask(Markup.Escape(Prefix.Length > 0 ? Prefix : "starting"), autoStart: true,
                        maxValue: 1);
                }

                try
                {
                    return work();
                }
                finally
                {
                    lock (_gate)
                    {
                        _task.StopTask();
                        _task = null;
                    }
                }
            });
    }

    /// <summary>Writes <paramref name="message"/> on its own line (above the live bar, if any).</summary>
    public void Line(string message)
    {
        lock (_gate)
        {
            FlushPendingEpoch();
            if (_live is not null)
            {
                _live.WriteLine(message);
            }
            else
            {
                _plain!.WriteLine(message);
            }
        }
    }

    /// <inheritdoc/>
    public void Report(TrainingProgress value)
    {
        ArgumentNullException.ThrowIfNull(value);
        lock (_gate)
        {
            if (_live is not null)
            {
                ReportLive(value);
            }
            else
            {
                ReportPlain(value);
            }
        }
    }

    private void ReportLive(TrainingProgress p)
    {
        if (_task is null || p.Phase == TrainingPhase.Completed)
        {
            return;
        }

        _task.MaxValue = Math.Max(1, p.TotalSteps);
        _task.Value = p.Step;
        _task.Description = Markup.Escape(Describe(p, withEta: false));
    }

    // One line per epoch: every step replaces the pending line of its epoch; validation of that epoch completes and
    // writes it, and anything else that follows (the next epoch's first step, completion) writes it as it is.
    private void ReportPlain(TrainingProgress p)
    {
        switch (p.Phase)
        {
            case TrainingPhase.Training:
                if (_pendingEpochLine is not null && p.Epoch != _pendingEpoch)
                {
                    FlushPendingEpoch();
                }

                _pendingEpoch = p.Epoch;
                _pendingEpochLine = Describe(p, withEta: true);
                break;
            case TrainingPhase.Validation when _pendingEpochLine is not null && p.Epoch == _pendingEpoch:
                _pendingEpochLine += string.Create(CultureInfo.InvariantCulture,
                    $" · validation {p.ValidationAccuracy:P2}");
                FlushPendingEpoch();
                break;
            default:
                FlushPendingEpoch();
                break;
        }
    }

    private void FlushPendingEpoch()
    {
        if (_pendingEpochLine is null)
        {
            return;
        }

        _plain?.WriteLine(_pendingEpochLine);
        _pendingEpochLine = null;
    }

    private string Describe(TrainingProgress p, bool withEta)
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"epoch {p.Epoch}/{p.TotalEpochs}");
        if (Prefix.Length > 0)
        {
            text = Prefix + " · " + text;
        }

        if (p.Loss is { } loss)
        {
            text += string.Create(CultureInfo.InvariantCulture, $" · loss {loss:F4}");
        }

        if (_live is not null && p.ValidationAccuracy is { } accuracy)
        {
            text += string.Create(CultureInfo.InvariantCulture, $" · validation {accuracy:P2}");
        }

        text += string.Create(CultureInfo.InvariantCulture, $" · {p.ImagesPerSecond:F0} img/s");
        if (withEta && p.EstimatedTimeRemaining is { } eta)
        {
            text += " · " + eta.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) + " left";
        }

        return text;
    }
}
