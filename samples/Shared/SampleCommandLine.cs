using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace MLNet.PromptTuning.Samples;

/// <summary>
/// Parses a sample's command line with System.CommandLine: <c>--help</c> lists every option with its default, and a
/// mistake prints one line per error (naming the option and the value) instead of a page of help.
/// </summary>
internal static class SampleCommandLine
{
    /// <summary>Exit code of a command line that could not be parsed.</summary>
    public const int UsageError = 2;

    /// <summary>
    /// A root command with <paramref name="description"/>, <paramref name="options"/> in that order, and no
    /// <c>--version</c> option (the samples have none).
    /// </summary>
    public static RootCommand CreateRoot(string description, IEnumerable<Option> options)
    {
        var root = new RootCommand(description);
        // The program runs itself after Parse; an action only tells the parser that the root command, even with
        // subcommands, needs no subcommand to be complete.
        root.SetAction(_ => 0);
        foreach (var version in root.Options.OfType<VersionOption>().ToList())
        {
            root.Options.Remove(version);
        }

        foreach (var option in options)
        {
            root.Options.Add(option);
        }

        return root;
    }

    /// <summary>
    /// Parses <paramref name="args"/>. Returns the result when the program should go on; otherwise writes help (for
    /// <c>--help</c>, exit code 0) or the errors (exit code <see cref="UsageError"/>) and returns null.
    /// </summary>
    public static ParseResult? Parse(RootCommand root, IReadOnlyList<string> args, out int exitCode)
    {
        var result = root.Parse(args);
        if (result.Action is CommandLineAction { ClearsParseErrors: true } or HelpAction)
        {
            // --help (or another terminating option): let System.CommandLine write it.
            exitCode = result.Invoke();
            return null;
        }

        if (result.Errors.Count > 0)
        {
            foreach (var error in result.Errors)
            {
                Console.Error.WriteLine(error.Message);
            }

            Console.Error.WriteLine("Run with --help for the options and their defaults.");
            exitCode = UsageError;
            return null;
        }

        exitCode = 0;
        return result;
    }

    /// <summary>
    /// Parses <paramref name="args"/> for code that reports mistakes by exception (tests, and programs that catch
    /// one error type): every parse error in one <see cref="ArgumentException"/>.
    /// </summary>
    public static ParseResult ParseOrThrow(Command command, IReadOnlyList<string> args)
    {
        var result = command.Parse(args);
        if (result.Errors.Count > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, result.Errors.Select(e => e.Message)));
        }

        return result;
    }

    /// <summary>The command line as typed, for reports that record how they were made.</summary>
    public static string Describe(string command, IReadOnlyList<string> args) =>
        command + (args.Count > 0 ? " -- " + string.Join(' ', args) : "");
}
