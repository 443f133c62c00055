using System.Globalization;

namespace MLNet.PromptTuning.Samples;

/// <summary>
/// Minimal command-line parsing for the samples: an optional leading command word, then <c>--name value</c> pairs.
/// </summary>
public sealed class SampleArguments
{
    private readonly string[] _args;

    /// <summary>Parses <paramref name="args"/>.</summary>
    public SampleArguments(string[] args)
    {
        _args = args;
        Command = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : null;
    }

    /// <summary>The leading word that is not an option, if any.</summary>
    public string? Command { get; }

    /// <summary>Whether <paramref name="name"/> appears (a switch without value).</summary>
    public bool Flag(string name) => Array.IndexOf(_args, name) >= 0;

    /// <summary>The value after <paramref name="name"/>, or <paramref name="fallback"/>.</summary>
    public string String(string name, string fallback) => Value(name) ?? fallback;

    /// <summary>The integer after <paramref name="name"/>, or <paramref name="fallback"/>.</summary>
    public int Int(string name, int fallback) =>
        Value(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    /// <summary>The number after <paramref name="name"/>, or <paramref name="fallback"/>.</summary>
    public double Double(string name, double fallback) =>
        Value(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;

    private string? Value(string name)
    {
        int i = Array.IndexOf(_args, name);
        if (i < 0)
        {
            return null;
        }

        if (i + 1 >= _args.Length)
        {
            throw new ArgumentException($"Option {name} needs a value.");
        }

        return _args[i + 1];
    }
}
