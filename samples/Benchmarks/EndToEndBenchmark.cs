using System.Diagnostics;
using System.Globalization;
using System.Text;
using MLNet.PromptTuning.Training;
using static MLNet.PromptTuning.Samples.Benchmarks.Orchestrator;

namespace MLNet.PromptTuning.Samples.Benchmarks;

/// <summary>
/// The e2e command: one epoch of <c>Fit</c> from an image folder against one epoch of a PyTorch user's
/// <c>Dataset</c> + <c>DataLoader</c> loop over the same folder (<c>peer/e2e_peer.py</c>), with the same model,
/// optimizer, batch and thread count, alternately, one measurement per process.
/// </summary>
/// <remarks>
/// Three kinds of run on each side: "data" (the near-zero-compute backbone null224, so the epoch is the data path's),
/// "fit" (VPT-Deep P=10 on tiny224) and "model" (the same model's training steps alone on random images already in
/// memory). Ours runs through the scale command's measurement process (<see cref="ScaleBenchmark"/>), the peer through
/// the Python script; both print an <see cref="EpochResult"/>.
/// </remarks>
internal static class EndToEndBenchmark
{
    /// <summary>The kinds of run, in the order each round runs them.</summary>
    public static readonly string[] KindNames = { "data", "fit", "model" };

    /// <summary>Writes the folder if needed, runs the rounds, prints the tables (and writes them to the report).
    /// </summary>
    public static int Run(Settings s)
    {
        var started = DateTime.UtcNow;
        string folder = ImageFolders.WriteFashion(Path.Combine(s.Folder, $"fashion224-{Inv(s.Images)}"), s.Images);
        int decoders = s.Decoders ?? PromptViTTrainer.Options.Defaults.DataLoadingThreads;
        Log($"e2e: {folder}, {s.Images} images, batch {s.Batch}, {s.Threads} threads, {decoders} decoding " +
            $"thread(s) / loader worker(s), cache {s.CacheMb} MiB, kinds {string.Join(",", s.Kinds)}, " +
            $"rounds {s.Rounds}");
        var runs = new List<(int Round, EpochResult Result, double LoadBefore, double LoadAfter)>();
        var loads = new List<double>();
        for (int round = 1; round <= s.Rounds; round++)
        {
            foreach (string kind in KindNames.Where(s.Kinds.Contains))
            {
                var sides = new[] { Ours(s, kind, folder, decoders), Peer(s, kind, folder, decoders) };
                // Alternate which side goes first, so a drift in the machine's load does not favour one side.
                foreach (var psi in round % 2 == 1 ? sides : sides.Reverse())
                {
                    double before = WaitForLoad(s);
                    var result = EpochResult.Run(psi, loads);
                    runs.Add((round, result, before, loads[^1]));
                }
            }
        }

        string report = Report(s, runs, decoders, started);
        Console.WriteLine(report);
        if (s.OutPath is { } path)
        {
            File.WriteAllText(path, report);
            Log($"Wrote {path}");
        }

        return 0;
    }

    private static ProcessStartInfo Ours(Settings s, string kind, string folder, int decoders)
    {
        string[] common =
        {
            "--threads", Inv(s.Threads), "--batch", Inv(s.Batch), "--decoders", Inv(decoders), "--model", "tiny224",
            "--method", "vpt",
        };
        return ChildProcess.Self(kind == "model" ? ScaleBenchmark.ChildArguments(kind, s.Images, common)
            : ScaleBenchmark.ChildArguments(kind, s.Images, common, folder, s.CacheMb));
    }

    private static ProcessStartInfo Peer(Settings s, string kind, string folder, int decoders)
    {
        var args = new List<string>
        {
            "--kind", kind, "--model", kind == "data" ? "null224" : "tiny224", "--batch", Inv(s.Batch),
            "--threads", Inv(s.Threads), "--workers", Inv(decoders), "--images", Inv(s.Images),
        };
        if (kind != "model")
        {
            args.AddRange(new[] { "--data", folder });
        }

        return ChildProcess.Python(s.Python, s.PeerScript, args);
    }

    /// <summary>Waits (at most --wait-quiet seconds) for the 1-minute load average to fall below --max-load; returns
    /// the load average when the run starts.</summary>
    private static double WaitForLoad(Settings s)
    {
        var deadline = DateTime.UtcNow.AddSeconds(s.WaitQuietSeconds);
        double load = ProcessMeter.LoadAverage();
        if (load >= s.MaxLoad && s.WaitQuietSeconds > 0)
        {
            Log($"Load average {load:F2}; waiting up to {s.WaitQuietSeconds} s for it to fall below {s.MaxLoad:F2}");
            while (load >= s.MaxLoad && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(5000);
                load = ProcessMeter.LoadAverage();
            }
        }

        return load;
    }

    private static string Report(Settings s,
        List<(int Round, EpochResult Result, double LoadBefore, double LoadAfter)> runs,
        int decoders, DateTime started)
    {
        var text = new StringBuilder();
        text.AppendLine(Inv($"Measured {started:yyyy-MM-dd HH:mm} to {DateTime.UtcNow:HH:mm} UTC; {s.Images} ") +
            Inv($"images, batch {s.Batch}, {s.Threads} compute threads and {decoders} decoding thread(s) / loader ") +
            Inv($"worker(s) on both sides; our image cache {s.CacheMb} MiB."));
        text.AppendLine();
        foreach (string line in MachineSummary())
        {
            text.AppendLine("- " + line);
        }

        text.AppendLine();
        text.AppendLine("| round | side | run | model | images | time (s) | images/s | CPU (s) | images per " +
            "CPU-second | peak RSS (MB) | other CPU | load before → after |");
        text.AppendLine("| ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var (round, r, before, after) in runs)
        {
            string rss = r.WorkerPeakRssMb is { } worker ? Inv($"{r.PeakRssMb:F0} + worker {worker:F0}")
                : Inv($"{r.PeakRssMb:F0}");
            text.AppendLine(Inv($"| {round} | {r.Side} | {r.Kind} | {r.Model} | {r.Images:N0} | {r.Seconds:F1} | ") +
                Inv($"{r.ImagesPerSecond:F1} | {r.CpuSeconds:F1} | {r.ImagesPerCpuSecond:F1} | {rss} | ") +
                Inv($"{r.ForeignPct:F1}% | {before:F2} → {after:F2} |"));
        }

        for (int round = 1; round <= s.Rounds; round++)
        {
            Summary(text, runs.Where(r => r.Round == round).Select(r => r.Result).ToList(), round, s.Rounds);
        }

        text.AppendLine();
        text.AppendLine("Time: from the start of the epoch (ours: the call to Fit; the peer: building the Dataset) " +
            "to its end, model construction excluded. CPU: the process's user and system time over the epoch (the " +
            "peer's includes its loader workers). Other CPU: other processes' share of the machine meanwhile. " +
            "Ratios compare runs of the same round only.");
        return text.ToString();
    }

    /// <summary>The comparison within one round (runs of different rounds met different loads).</summary>
    private static void Summary(StringBuilder text, List<EpochResult> runs, int round, int rounds)
    {
        text.AppendLine();
        if (rounds > 1)
        {
            text.AppendLine(Inv($"Round {round}:"));
            text.AppendLine();
        }

        text.AppendLine("| measure | ours | peer | ours/peer |");
        text.AppendLine("| --- | ---: | ---: | ---: |");
        EpochResult? Find(string side, string kind) => runs.FirstOrDefault(r => r.Side == side && r.Kind == kind);
        void Row(string measure, string kind, Func<EpochResult, double> value, string format)
        {
            if (Find("ours", kind) is { } o && Find("peer", kind) is { } p)
            {
                text.AppendLine(Inv($"| {measure} | {value(o).ToString(format, CultureInfo.InvariantCulture)} | ") +
                    Inv($"{value(p).ToString(format, CultureInfo.InvariantCulture)} | **{value(o) / value(p):F2}** |"));
            }
        }

        Row("data path (null224): wall time of the epoch, s", "data", r => r.Seconds, "F1");
        Row("data path: images/s", "data", r => r.ImagesPerSecond, "F1");
        Row("data path: images per CPU-second (per busy core)", "data", r => r.ImagesPerCpuSecond, "F1");
        Row("Fit, tiny224 VPT-Deep P=10: wall time of the epoch, s", "fit", r => r.Seconds, "F1");
        Row("Fit: images/s", "fit", r => r.ImagesPerSecond, "F1");
        Row("Fit: peak RSS (main process), MB", "fit", r => r.PeakRssMb, "F0");
        Row("model step alone (in memory): images/s", "model", r => r.ImagesPerSecond, "F1");
        var fitOverModel = new[] { "ours", "peer" }.Select(side => Find(side, "fit") is { } f &&
            Find(side, "model") is { } m ? Inv($"{f.ImagesPerSecond / m.ImagesPerSecond:F2}") : "–").ToArray();
        text.AppendLine($"| Fit images/s ÷ model step images/s (goal for ours ≥ 0.9) | **{fitOverModel[0]}** | " +
            $"{fitOverModel[1]} | – |");
    }

    /// <summary>The e2e command's options.</summary>
    internal sealed record Settings(
        string Folder,
        int Images,
        int Batch,
        int Threads,
        int? Decoders,
        int CacheMb,
        IReadOnlyList<string> Kinds,
        int Rounds,
        double MaxLoad,
        int WaitQuietSeconds,
        string Python,
        string PeerScript,
        string? OutPath);
}
