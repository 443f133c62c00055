using System.Diagnostics;
using System.Reflection;

namespace MLNet.PromptTuning.Samples.Benchmarks;

/// <summary>
/// Starts the measurement processes of the benchmark commands (this program again, or the Python peer) and reads the
/// one JSON line each prints last.
/// </summary>
internal static class ChildProcess
{
    /// <summary>This program with <paramref name="args"/> (through the dotnet host when it runs under one).</summary>
    public static ProcessStartInfo Self(IEnumerable<string> args)
    {
        var path = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot find this program's path.");
        var psi = new ProcessStartInfo(path);
        if (Path.GetFileNameWithoutExtension(path) == "dotnet")
        {
            psi.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        }

        return WithArguments(psi, args);
    }

    /// <summary><paramref name="python"/> running <paramref name="script"/> with <paramref name="args"/>.</summary>
    public static ProcessStartInfo Python(string python, string script, IEnumerable<string> args) =>
        WithArguments(new ProcessStartInfo(python) { ArgumentList = { script } }, args);

    /// <summary>
    /// Runs the process to its end and returns the last line of its standard output that starts with '{'.
    /// </summary>
    /// <exception cref="InvalidOperationException">The process failed or printed no JSON line; the message holds
    /// its command line, standard output and standard error.</exception>
    public static string RunForJsonLine(ProcessStartInfo psi)
    {
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        using var process = Process.Start(psi)
            ?? throw new InvalidOperationException($"Could not start {psi.FileName}.");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var line = stdout.Split('\n').LastOrDefault(l => l.TrimStart().StartsWith('{'));
        if (process.ExitCode != 0 || line is null)
        {
            throw new InvalidOperationException(
                $"{psi.FileName} {string.Join(' ', psi.ArgumentList)} failed with exit code {process.ExitCode}:\n" +
                stdout + "\n" + stderr.Result);
        }

        return line;
    }

    private static ProcessStartInfo WithArguments(ProcessStartInfo psi, IEnumerable<string> args)
    {
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }
}
