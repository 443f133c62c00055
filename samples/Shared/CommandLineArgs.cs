using System.Globalization;

namespace MLNet.PromptTuning.Samples;

/// <summary>A minimal <c>--name value</c> / <c>--flag</c> command-line reader that rejects unknown names.</summary>
internal sealed class CommandLineArgs
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public CommandLineArgs(IEnumerable<string> args)
    {
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            if (!list[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"Unexpected argument '{list[i]}'; options look like --name value.");
            }

            var name = list[i][2..];
            string? value = i + 1 < list.Count && !list[i + 1].StartsWith("--", StringComparison.Ordinal) ? list[++i]
                : null;
            _values[name] = value;
        }
    }

    public string String(string name, string fallback) => Get(name) ?? fallback;

    public string? OptionalString(string name) => Get(name);

    public int Int(string name, int fallback) =>
        Get(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    public double Double(string name, double fallback) =>
        Get(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;

    public bool Flag(string name)
    {
        _used.Add(name);
        return _values.ContainsKey(name);
    }

    public string[] List(string name, IEnumerable<string> fallback) =>
        Get(name) is { } v ? v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : fallback.ToArray();

    public double[] Doubles(string name, IEnumerable<double> fallback) =>
        Get(name) is { } v
            ? v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(x => double.Parse(x, NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray()
            : fallback.ToArray();

    public int[] Ints(string name, IEnumerable<int> fallback) =>
        Get(name) is { } v
            ? v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(x => int.Parse(x, NumberStyles.Integer, CultureInfo.InvariantCulture)).ToArray()
            : fallback.ToArray();

    /// <summary>Throws when an option was given that nothing read (a typo, usually).</summary>
    public void RejectUnknown()
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"Unknown option(s): {string.Join(", ", unknown.Select(u => "--" + u))}.");
        }
    }

    private string? Get(string name)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out var v) ? v ?? throw new ArgumentException($"--{name} needs a value.")
            : null;
    }
}
