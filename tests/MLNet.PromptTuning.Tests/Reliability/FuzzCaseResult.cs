using System.Globalization;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>One case's result as the child reports it on one tab-separated line.</summary>
internal sealed record FuzzCaseResult(
    string Target,
    int Index,
    string Kind,
    FuzzOutcome Outcome,
    string Exception,
    double Milliseconds,
    long ManagedBytes,
    long TensorBytes,
    long ResidentBytes,
    long FileBytes,
    string Detail)
{
    public bool Passed =>
        Outcome is FuzzOutcome.Refused or FuzzOutcome.LoadedSame or FuzzOutcome.LoadedChangedUndetectable;

    public string ToLine() => string.Join('\t', "end", Target, Index.ToString(CultureInfo.InvariantCulture), Kind,
        Outcome, Exception, Milliseconds.ToString("F2", CultureInfo.InvariantCulture),
        ManagedBytes.ToString(CultureInfo.InvariantCulture), TensorBytes.ToString(CultureInfo.InvariantCulture),
        ResidentBytes.ToString(CultureInfo.InvariantCulture), FileBytes.ToString(CultureInfo.InvariantCulture),
        Detail.ReplaceLineEndings(" ").Replace('\t', ' '));

    public static FuzzCaseResult Parse(string line)
    {
        var f = line.Split('\t', 12);
        return new FuzzCaseResult(f[1], int.Parse(f[2], CultureInfo.InvariantCulture), f[3],
            Enum.Parse<FuzzOutcome>(f[4]), f[5], double.Parse(f[6], CultureInfo.InvariantCulture),
            long.Parse(f[7], CultureInfo.InvariantCulture), long.Parse(f[8], CultureInfo.InvariantCulture),
            long.Parse(f[9], CultureInfo.InvariantCulture), long.Parse(f[10], CultureInfo.InvariantCulture), f[11]);
    }
}
