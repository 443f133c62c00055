using System.Globalization;
using System.Text;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>The results of a campaign, with the summaries the tests assert on and the docs record.</summary>
internal sealed record FuzzReport(
    IReadOnlyList<FuzzCaseResult> Results, IReadOnlyList<FuzzTarget> Targets, int Seed, TimeSpan Elapsed)
{
    public IEnumerable<FuzzCaseResult> Findings => Results.Where(r => !r.Passed);

    /// <summary>Per format: cases and how they ended, as a markdown table.</summary>
    public string Summary()
    {
        var formats = Targets.ToDictionary(t => t.Name, t => t.Format);
        var text = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture,
                $"Seed {Seed}, {Results.Count} cases in {Elapsed.TotalSeconds:F0} s.")
            .AppendLine()
            .AppendLine("| format | cases | refused | loaded, same values | loaded, changed (undetectable) | " +
                        "findings | slowest case | most managed | largest tensor / file | most RSS growth |")
            .AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var group in Results.GroupBy(r => formats[r.Target]).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var cases = group.ToList();
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {group.Key} | {cases.Count} | {Count(cases, FuzzOutcome.Refused)} | " +
                $"{Count(cases, FuzzOutcome.LoadedSame)} | {Count(cases, FuzzOutcome.LoadedChangedUndetectable)} | " +
                $"{cases.Count(c => !c.Passed)} | {cases.Max(c => c.Milliseconds):F0} ms | " +
                $"{cases.Max(c => c.ManagedBytes) / 1048576.0:F1} MB | " +
                $"{cases.Max(c => (double)c.TensorBytes / Math.Max(1, c.FileBytes)):F1}x | " +
                $"{cases.Max(c => c.ResidentBytes) / 1048576.0:F1} MB |");
        }

        text.AppendLine().AppendLine("| format | kind | cases | refused | same | changed (undetectable) | findings |")
            .AppendLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var group in Results.GroupBy(r => (Format: formats[r.Target], r.Kind))
                     .OrderBy(g => g.Key.Format, StringComparer.Ordinal)
                     .ThenBy(g => g.Key.Kind, StringComparer.Ordinal))
        {
            var cases = group.ToList();
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {group.Key.Format} | {group.Key.Kind} | {cases.Count} | {Count(cases, FuzzOutcome.Refused)} | " +
                $"{Count(cases, FuzzOutcome.LoadedSame)} | {Count(cases, FuzzOutcome.LoadedChangedUndetectable)} | " +
                $"{cases.Count(c => !c.Passed)} |");
        }

        var findings = Findings.ToList();
        if (findings.Count > 0)
        {
            text.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"Findings ({findings.Count}):");
            foreach (var group in findings.GroupBy(f => (formats[f.Target], f.Outcome)))
            {
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"- {group.Key.Item1} {group.Key.Outcome}: {group.Count()}");
            }

            foreach (var finding in findings.Take(40))
            {
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"  {finding.Target} #{finding.Index} {finding.Kind} {finding.Outcome} {finding.Exception}: " +
                    $"{(finding.Detail.Length > 600 ? finding.Detail[..600] : finding.Detail)}");
            }
        }

        return text.ToString();
    }

    private static int Count(List<FuzzCaseResult> cases, FuzzOutcome outcome) => cases.Count(c => c.Outcome == outcome);
}
