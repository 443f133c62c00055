using System.Collections.Concurrent;
using System.Diagnostics;
using MLNet.PromptTuning.Tests.Interop;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// This test assembly started as a console program (see Program.cs) in a child process, with its standard output
/// read line by line as it comes, so that a harness can watch a child work and kill it (SIGKILL on Unix) at will.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string?> _lines = new();
    private readonly Task<string> _stderr;

    private ChildProcess(Process process)
    {
        _process = process;
        _stderr = process.StandardError.ReadToEndAsync();
        _ = Task.Run(() =>
        {
            try
            {
                while (process.StandardOutput.ReadLine() is { } line)
                {
                    _lines.Add(line);
                }
            }
            finally
            {
                _lines.Add(null);
            }
        });
    }

    /// <summary>The child's process id.</summary>
    public int Id => _process.Id;

    /// <summary>Starts <c>dotnet MLNet.PromptTuning.Tests.dll ARGUMENTS</c>.</summary>
    public static ChildProcess Start(params string[] arguments)
    {
        var start = new ProcessStartInfo(PersistenceTests.DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return new ChildProcess(Process.Start(start)!);
    }

    /// <summary>
    /// The next line of output, waiting at most <paramref name="timeout"/>: false on timeout; true with null when the
    /// child closed its output (it exited).
    /// </summary>
    public bool TryReadLine(TimeSpan timeout, out string? line) => _lines.TryTake(out line, timeout);

    /// <summary>Kills the child at once (SIGKILL on Unix) and waits for it to be gone.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }

        _process.WaitForExit();
    }

    /// <summary>Waits for the child to exit; returns its exit code and standard error.</summary>
    public (int ExitCode, string Error) WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            Kill();
            return (-1, "timed out; " + _stderr.Result);
        }

        return (_process.ExitCode, _stderr.Result);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }

        _process.Dispose();
    }
}
