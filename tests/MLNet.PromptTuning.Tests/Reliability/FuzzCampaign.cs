using System.Diagnostics;
using System.Globalization;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// Runs fuzz cases in child processes (<see cref="FuzzChild"/>), many cases per child for speed, and turns what the
/// parent sees into results: a child that dies during a case is a <see cref="FuzzOutcome.Crash"/> of that case, a case
/// that runs past <see cref="FuzzBounds.CaseTimeout"/> is a <see cref="FuzzOutcome.Hang"/> (the child is killed); in
/// both cases a new child carries on from the next case. The damaged file of every finding is kept for reproduction.
/// </summary>
internal static class FuzzCampaign
{
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromMinutes(2);

    /// <summary>Runs <paramref name="plan"/> and returns every case's result.</summary>
    /// <param name="plan">Each target with its number of cases.</param>
    /// <param name="seed">The campaign seed: the same seed gives the same damaged files.</param>
    /// <param name="batchSize">Cases per child process.</param>
    /// <param name="parallelism">Children running at once.</param>
    /// <param name="findings">Where the damaged files of findings are written.</param>
    public static FuzzReport Run(
        IReadOnlyList<(FuzzTarget Target, int Cases)> plan, int seed, int batchSize, int parallelism, string findings)
    {
        var clock = Stopwatch.StartNew();
        var batches = plan.SelectMany(p => Enumerable.Range(0, (p.Cases + batchSize - 1) / batchSize)
            .Select(b => (p.Target, First: b * batchSize, Count: Math.Min(batchSize, p.Cases - (b * batchSize)))))
            .ToList();
        var results = new List<FuzzCaseResult>();
        using var gate = new SemaphoreSlim(parallelism);
        var tasks = batches.Select(async batch =>
        {
            await gate.WaitAsync();
            try
            {
                var batchResults = await Task.Run(
                    () => RunBatch(batch.Target, seed, batch.First, batch.Count, findings));
                lock (results)
                {
                    results.AddRange(batchResults);
                }
            }
            finally
            {
                gate.Release();
            }
        }).ToArray();
        Task.WaitAll(tasks);
        return new FuzzReport(results.OrderBy(r => r.Target, StringComparer.Ordinal).ThenBy(r => r.Index).ToList(),
            plan.Select(p => p.Target).ToList(), seed, clock.Elapsed);
    }

    private static List<FuzzCaseResult> RunBatch(FuzzTarget target, int seed, int first, int count, string findings)
    {
        var results = new List<FuzzCaseResult>();
        var next = first;
        var end = first + count;
        while (next < end)
        {
            using var child = ChildProcess.Start(FuzzChild.Command, target.Name,
                seed.ToString(CultureInfo.InvariantCulture), next.ToString(CultureInfo.InvariantCulture),
                (end - next).ToString(CultureInfo.InvariantCulture));
            var current = -1;
            var ready = false;
            var caseClock = Stopwatch.StartNew();
            var startClock = Stopwatch.StartNew();
            while (true)
            {
                if (child.TryReadLine(TimeSpan.FromMilliseconds(50), out var line))
                {
                    if (line is null)
                    {
                        var (exitCode, error) = child.WaitForExit(TimeSpan.FromSeconds(30));
                        if (current >= 0)
                        {
                            results.Add(Finding(target, seed, current, FuzzOutcome.Crash,
                                $"exit code {exitCode}: {Tail(error)}", findings));
                            next = current + 1;
                        }
                        else if (next < end)
                        {
                            throw new InvalidOperationException(
                                $"The fuzz child for {target.Name} exited with {exitCode} outside a case: " +
                                Tail(error));
                        }

                        break;
                    }

                    if (line == "ready")
                    {
                        ready = true;
                    }
                    else if (line.StartsWith("begin\t", StringComparison.Ordinal))
                    {
                        current = int.Parse(line[6..], CultureInfo.InvariantCulture);
                        caseClock.Restart();
                    }
                    else if (line.StartsWith("end\t", StringComparison.Ordinal))
                    {
                        var result = FuzzCaseResult.Parse(line);
                        if (!result.Passed)
                        {
                            var kept = Keep(target, seed, result.Index, findings);
                            result = result with { Detail = result.Detail + $" [file: {kept}]" };
                        }

                        results.Add(result);
                        next = result.Index + 1;
                        current = -1;
                    }

                    continue;
                }

                if (current >= 0 && caseClock.Elapsed > FuzzBounds.CaseTimeout)
                {
                    child.Kill();
                    results.Add(Finding(target, seed, current, FuzzOutcome.Hang,
                        $"still running after {FuzzBounds.CaseTimeout.TotalSeconds} s", findings));
                    next = current + 1;
                    break;
                }

                if (!ready && startClock.Elapsed > StartupTimeout)
                {
                    throw new InvalidOperationException($"The fuzz child for {target.Name} did not start.");
                }
            }
        }

        return results;
    }

    private static FuzzCaseResult Finding(
        FuzzTarget target, int seed, int index, FuzzOutcome outcome, string detail, string findings)
    {
        var mutation = FuzzChild.MutationFor(target, seed, index, target.Seed());
        return new FuzzCaseResult(target.Name, index, mutation.Kind, outcome, "", 0, 0, 0, 0, mutation.Bytes.Length,
            $"{mutation.Description} => {detail} [file: {Keep(target, seed, index, findings)}]");
    }

    /// <summary>Writes the damaged file of a finding, so that it can be loaded again by hand.</summary>
    private static string Keep(FuzzTarget target, int seed, int index, string findings)
    {
        Directory.CreateDirectory(findings);
        var path = Path.Combine(findings, $"{target.Name}-{seed}-{index}{FuzzChild.Extension(target.Format)}");
        File.WriteAllBytes(path, FuzzChild.MutationFor(target, seed, index, target.Seed()).Bytes);
        return path;
    }

    private static string Tail(string text) => text.Length > 2000 ? text[^2000..] : text;
}
