using System.Globalization;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// The long campaign, as a command:
/// <c>dotnet tests/MLNet.PromptTuning.Tests/bin/Release/net10.0/MLNet.PromptTuning.Tests.dll fuzz-campaign
/// [--cases-per-format 10000] [--seed 1] [--parallel 2] [--formats safetensors,npy,npz,pth,model,adapter]</c>.
/// It prints the markdown tables that docs/reliability.md records and exits 1 if there is any finding.
/// </summary>
internal static class FuzzCommand
{
    public const string Command = "fuzz-campaign";

    public static int Run(string[] args)
    {
        var casesPerFormat = 10_000;
        var seed = 1;
        var parallel = 2;
        string[]? formats = null;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--cases-per-format":
                    casesPerFormat = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--seed":
                    seed = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--parallel":
                    parallel = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--formats":
                    formats = args[i + 1].Split(',');
                    break;
                default:
                    Console.Error.WriteLine($"Unknown option {args[i]}.");
                    return 2;
            }
        }

        var known = FuzzTargets.All.Select(t => t.Format).ToHashSet(StringComparer.Ordinal);
        if (formats?.FirstOrDefault(f => !known.Contains(f)) is { } unknown)
        {
            Console.Error.WriteLine($"Unknown format '{unknown}'; expected one of {string.Join(", ", known)}.");
            return 2;
        }

        var plan = Plan(casesPerFormat, formats);
        var findings = Path.Combine(Path.GetTempPath(), $"fuzz-findings-{seed}");
        var report = FuzzCampaign.Run(plan, seed, batchSize: 500, parallel, findings);
        Console.WriteLine(report.Summary());
        return report.Findings.Any() ? 1 : 0;
    }

    /// <summary>
    /// Spreads <paramref name="casesPerFormat"/> cases over each format's targets; without a list, every format but
    /// the comparison-only ones (<c>*-unchecked</c>, which are expected to have findings).
    /// </summary>
    public static List<(FuzzTarget Target, int Cases)> Plan(int casesPerFormat, IEnumerable<string>? formats = null)
    {
        var wanted = formats?.ToHashSet(StringComparer.Ordinal);
        return FuzzTargets.All
            .Where(t => wanted?.Contains(t.Format) ?? !t.Format.EndsWith("-unchecked", StringComparison.Ordinal))
            .GroupBy(t => t.Format)
            .SelectMany(g =>
            {
                var targets = g.ToList();
                return targets.Select((t, i) =>
                    (t, (casesPerFormat / targets.Count) + (i < casesPerFormat % targets.Count ? 1 : 0)));
            })
            .ToList();
    }
}
