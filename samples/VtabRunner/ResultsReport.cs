using System.Globalization;
using System.Text;

namespace MLNet.PromptTuning.Samples.VtabRunner;

/// <summary>
/// Turns the journal into the results table: test top-1 (mean ± standard deviation over the final seeds) per task and
/// method, the mean of each group (VTAB-1k: Natural, Specialized, Structured), the mean of the group means (the
/// "Mean" column of CVPT and later papers) and the plain mean over tasks; plus a CSV with the chosen hyper-parameters
/// and every per-seed value.
/// </summary>
internal static class ResultsReport
{
    public const string MarkdownFile = "results.md";
    public const string CsvFile = "results.csv";

    public static void Write(RunnerOptions o, IReadOnlyList<JournalEntry> entries, IReadOnlyList<string> taskOrder)
    {
        WriteAtomically(Path.Combine(o.OutputDirectory, MarkdownFile), Markdown(o, entries, taskOrder));
        WriteAtomically(Path.Combine(o.OutputDirectory, CsvFile), Csv(o, entries, taskOrder));
    }

    public static string Markdown(RunnerOptions o, IReadOnlyList<JournalEntry> entries, IReadOnlyList<string> taskOrder)
    {
        var methods = o.Methods.Select(m => m.Label).ToArray();
        var tasks = Tasks(entries, taskOrder);
        var sb = new StringBuilder();
        sb.AppendLine(o.Benchmark == "vtab" ? "# VTAB-1k results" : "# FGVC results");
        sb.AppendLine();
        sb.AppendLine(
            Inv($"Test top-1 (%), mean ± standard deviation over the final seeds ({string.Join(", ", o.Seeds)}); ") +
            Inv($"backbone `{Path.GetFileName(o.BackbonePath)}`; ") +
            (o.Recipe is { } recipe
                ? Inv($"recipe `{recipe.Name}` ({recipe.Source}; label smoothing {recipe.LabelSmoothing:G}, ") +
                    Inv($"mixup α {recipe.MixupAlpha:G}); ")
                : "recipe: none (VPT's protocol, as set on the command line); ") +
            Inv($"{o.Epochs} epochs, batch {o.BatchSize}, ") +
                Inv($"{o.Optimizer}, ") +
            Inv($"{o.Schedule} with {o.WarmupEpochs:G} warmup epochs; hyper-parameters chosen on ") +
            (o.Benchmark == "vtab" ? "train800 → val200, final runs on train800val200 → test."
                : "train → val, final runs on train → test."));
        sb.AppendLine();
        sb.AppendLine("| group | task | " + string.Join(" | ", methods) + " |");
        sb.AppendLine("|---|---|" + string.Concat(methods.Select(_ => "---:|")));
        var groupMeans = new Dictionary<string, double?[]>();
        foreach (var group in BenchmarkTask.GroupOrder)
        {
            var inGroup = tasks.Where(t => t.Group == group).ToList();
            if (inGroup.Count == 0)
            {
                continue;
            }

            foreach (var task in inGroup)
            {
                sb.AppendLine($"| {group} | {task.Display} | " +
                    string.Join(" | ", methods.Select(m => Cell(Finals(entries, task.Name, m, o), o.Seeds.Count)))
                        + " |");
            }

            var means = methods.Select(m => Mean(inGroup.Select(t => SeedMean(entries, t.Name, m, o)))).ToArray();
            groupMeans[group] = means;
            int present(string m) => inGroup.Count(t => SeedMean(entries, t.Name, m, o) is not null);
            sb.AppendLine($"| **{group} mean** | ({inGroup.Count} tasks) | "
                + string.Join(" | ", methods.Select((m, i) =>
                means[i] is { } v ? Inv($"**{v * 100:F1}**")
                    + (present(m) < inGroup.Count ? Inv($" ({present(m)}/{inGroup.Count})") : "") : "–")) + " |");
        }

        if (groupMeans.Count > 1)
        {
            sb.AppendLine("| **Mean of group means** | | " + string.Join(" | ", methods.Select((_, i) =>
                Mean(groupMeans.Values.Select(g => g[i])) is { } v ? Inv($"**{v * 100:F1}**") : "–")) + " |");
        }

        sb.AppendLine($"| **Mean over tasks** | ({tasks.Count} tasks) | " + string.Join(" | ", methods.Select(m =>
            Mean(tasks.Select(t => SeedMean(entries, t.Name, m, o))) is { } v ? Inv($"**{v * 100:F1}**") : "–"))
                + " |");
        sb.AppendLine();
        sb.AppendLine("A cell shows (k/n) when only k of the n seeds have finished; \"–\" means no final run yet. " +
            "Chosen learning rates and weight decays, the search results and every per-seed value are in results.csv.");
        return sb.ToString();
    }

    public static string Csv(RunnerOptions o, IReadOnlyList<JournalEntry> entries, IReadOnlyList<string> taskOrder)
    {
        var sb = new StringBuilder();
        sb.AppendLine(
            "benchmark,group,task,method,lr,wd,lr_effective,seeds_done,seeds_planned,mean_top1,std_top1," +
            "per_seed_top1,search_val_top1");
        foreach (var task in Tasks(entries, taskOrder))
        {
            foreach (var method in o.Methods.Select(m => m.Label))
            {
                var finals = Finals(entries, task.Name, method, o);
                var search = entries.Where(e => e.Kind == "search" && e.Task == task.Name && e.Method == method)
                    .Select(e => Inv($"lr={e.Lr:G}/wd={e.Wd:G}={e.Accuracy * 100:F2}"));
                var values = finals.Select(f => f.Accuracy * 100).ToArray();
                var first = finals.FirstOrDefault();
                sb.AppendLine(string.Join(",",
                    o.Benchmark, task.Group, Quote(task.Name), Quote(method),
                    first is null ? "" : Inv($"{first.Lr:G}"), first is null ? "" : Inv($"{first.Wd:G}"),
                    first is null ? "" : Inv($"{o.EffectiveLearningRate(first.Lr):G}"),
                    Inv($"{values.Length}"), Inv($"{o.Seeds.Count}"),
                    values.Length == 0 ? "" : Inv($"{values.Average():F2}"),
                    values.Length == 0 ? "" : Inv($"{Std(values):F2}"),
                    Quote(string.Join(";", finals.Select(f => Inv($"{f.Seed}:{f.Accuracy * 100:F2}")))),
                    Quote(string.Join(";", search))));
            }
        }

        return sb.ToString();
    }

    private static List<(string Name, string Display, string Group)> Tasks(IReadOnlyList<JournalEntry> entries,
        IReadOnlyList<string> order)
    {
        var known = entries.Where(e => e.Task is not null)
            .GroupBy(e => e.Task!)
            .Select(g => (Name: g.Key, Display: g.Last().Display ?? g.Key, Group: g.Last().Group ?? "Other"))
            .ToList();
        return known
            .OrderBy(t => Array.IndexOf(BenchmarkTask.GroupOrder, t.Group) is var i and >= 0 ? i : int.MaxValue)
            .ThenBy(t => order.ToList().IndexOf(t.Name) is var j and >= 0 ? j : int.MaxValue)
            .ThenBy(t => t.Name, StringComparer.Ordinal)
            .ToList();
    }

    private static List<JournalEntry> Finals(IReadOnlyList<JournalEntry> entries, string task, string method,
        RunnerOptions o) =>
        entries.Where(e => e.Kind == "final" && e.Task == task && e.Method == method && o.Seeds.Contains(e.Seed))
            .GroupBy(e => e.Seed).Select(g => g.Last()).OrderBy(e => e.Seed).ToList();

    private static double? SeedMean(IReadOnlyList<JournalEntry> entries, string task, string method, RunnerOptions o)
    {
        var finals = Finals(entries, task, method, o);
        return finals.Count == 0 ? null : finals.Average(f => f.Accuracy);
    }

    private static double? Mean(IEnumerable<double?> values)
    {
        var present = values.Where(v => v is not null).Select(v => v!.Value).ToArray();
        return present.Length == 0 ? null : present.Average();
    }

    private static string Cell(List<JournalEntry> finals, int planned)
    {
        if (finals.Count == 0)
        {
            return "–";
        }

        var values = finals.Select(f => f.Accuracy * 100).ToArray();
        var text = Inv($"{values.Average():F1} ± {Std(values):F1}");
        return finals.Count < planned ? text + Inv($" ({finals.Count}/{planned})") : text;
    }

    /// <summary>Sample standard deviation (0 for one value).</summary>
    private static double Std(double[] values)
    {
        if (values.Length < 2)
        {
            return 0;
        }

        double mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
    }

    private static string Quote(string value) =>
        value.Contains(',') || value.Contains('"') ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;

    private static void WriteAtomically(string path, string text)
    {
        var temp = path + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
