using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLNet.PromptTuning.Samples.VtabRunner;

/// <summary>
/// Append-only record of finished units (one search point, or one final seed), one JSON object per line, flushed to
/// disk after each. A rerun reads it and skips every unit it lists, so an interrupted run continues where it stopped.
/// The first line holds the settings fingerprint; a journal from other settings is refused.
/// </summary>
internal sealed class ResultsJournal
{
    public const string FileName = "journal.jsonl";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly string _path;
    private readonly List<JournalEntry> _entries;

    private ResultsJournal(string path, List<JournalEntry> entries)
    {
        _path = path;
        _entries = entries;
    }

    public IReadOnlyList<JournalEntry> Entries => _entries;

    /// <summary>Opens (or starts) the journal in <paramref name="directory"/>.</summary>
    /// <exception cref="InvalidOperationException">The journal was written with other settings.</exception>
    public static ResultsJournal Open(string directory, IReadOnlyDictionary<string, string> fingerprint, bool restart)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName);
        if (restart && File.Exists(path))
        {
            File.Move(path, path + $".{DateTime.UtcNow:yyyyMMddHHmmss}.bak");
        }

        if (!File.Exists(path))
        {
            var header = new JournalEntry { Kind = "header", Settings = new Dictionary<string, string>(fingerprint) };
            File.WriteAllText(path, JsonSerializer.Serialize(header, Json) + "\n");
            return new ResultsJournal(path, new List<JournalEntry>());
        }

        var entries = new List<JournalEntry>();
        JournalEntry? first = null;
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            JournalEntry entry;
            try
            {
                entry = JsonSerializer.Deserialize<JournalEntry>(line, Json)!;
            }
            catch (JsonException) when (lineNumber > 1)
            {
                // A line cut short by a crash mid-write: that unit simply runs again.
                continue;
            }

            if (first is null)
            {
                first = entry;
                continue;
            }

            entries.Add(entry);
        }

        var saved = first?.Settings ?? new Dictionary<string, string>();
        foreach (var (key, value) in fingerprint)
        {
            if (!saved.TryGetValue(key, out var old) || old != value)
            {
                throw new InvalidOperationException(
                    $"The journal '{path}' was written with {key} = {old ?? "(absent)"}, but this run has {key} = " +
                    $"{value}. " +
                    "Use the same settings to continue it, another --out directory, or --restart.");
            }
        }

        return new ResultsJournal(path, entries);
    }

    public JournalEntry? Find(string kind, string task, string method, double lr, double wd, int seed) =>
        _entries.LastOrDefault(e => e.Kind == kind && e.Task == task && e.Method == method &&
            (kind == "final" || (e.Lr == lr && e.Wd == wd)) && (kind == "search" || e.Seed == seed));

    public void Append(JournalEntry entry)
    {
        var line = JsonSerializer.Serialize(entry, Json) + "\n";
        using (var stream = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read))
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(line);
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        _entries.Add(entry);
    }
}

/// <summary>One journal line.</summary>
internal sealed class JournalEntry
{
    /// <summary><c>header</c>, <c>search</c> (train → validation at one grid point) or <c>final</c> (one seed →
    /// test).</summary>
    public string Kind { get; set; } = "";

    public Dictionary<string, string>? Settings { get; set; }

    public string? Task { get; set; }

    public string? Display { get; set; }

    public string? Group { get; set; }

    public string? Method { get; set; }

    /// <summary>Grid value of the learning rate (before batch scaling).</summary>
    public double Lr { get; set; }

    public double Wd { get; set; }

    public int Seed { get; set; }

    /// <summary>Top-1 accuracy in [0, 1] on the validation (search) or test (final) list.</summary>
    public double Accuracy { get; set; }

    public int Images { get; set; }

    public double Seconds { get; set; }

    public string? Utc { get; set; }
}
