using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLNet.PromptTuning.Samples.Benchmarks;

/// <summary>
/// One epoch measured in its own process (the scale and e2e commands): what ran, its wall time from the start of the
/// epoch to its end, the CPU time the process used meanwhile, its peak resident memory and the other processes'
/// share of the machine. Ours and the e2e peer print it as one JSON line with snake_case keys.
/// </summary>
/// <param name="Side">"ours" or "peer".</param>
/// <param name="Kind">"data" (near-zero-compute backbone), "fit" (the chosen model) or "model" (training steps
/// alone on images already in memory).</param>
/// <param name="Data">The image folder's name, or what the in-memory images are.</param>
/// <param name="Model">The backbone: tiny224 or null224.</param>
/// <param name="Images">Images trained on in the epoch.</param>
/// <param name="CacheMb">Ours' image cache in MiB (0 for the peer, which caches nothing).</param>
/// <param name="Seconds">Wall time of the epoch.</param>
/// <param name="ImagesPerSecond">Images over wall time.</param>
/// <param name="CpuSeconds">CPU time of the process (and, for the peer, of its finished loader workers) during the
/// epoch.</param>
/// <param name="PeakRssMb">VmHWM of the process, MB.</param>
/// <param name="WorkerPeakRssMb">The peer's largest loader worker's peak RSS, MB (null for ours: one process).</param>
/// <param name="Decoders">Ours' decoding threads, or the peer's loader workers.</param>
/// <param name="Threads">Compute threads (libtorch intra-op).</param>
/// <param name="ForeignPct">Other processes' CPU share of the machine during the epoch, percent.</param>
/// <param name="StealPct">Hypervisor steal during the epoch, percent.</param>
internal sealed record EpochResult(string Side, string Kind, string Data, string Model, int Images, int CacheMb,
    double Seconds, double ImagesPerSecond, double CpuSeconds, double PeakRssMb, double? WorkerPeakRssMb,
    int Decoders, int Threads, double ForeignPct, double StealPct)
{
    /// <summary>Images per second of CPU time the side used: throughput per busy core.</summary>
    [JsonIgnore]
    public double ImagesPerCpuSecond => Images / CpuSeconds;

    /// <summary>The JSON line.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, RunResult.Json);

    /// <summary>
    /// Runs one measurement process to its end, adds the load average at its end to <paramref name="load"/>, prints a
    /// summary line and returns the result the process printed.
    /// </summary>
    public static EpochResult Run(ProcessStartInfo psi, List<double> load)
    {
        Console.WriteLine($"> {Path.GetFileName(psi.FileName)} {string.Join(' ', psi.ArgumentList)}");
        var result = Parse(ChildProcess.RunForJsonLine(psi));
        load.Add(ProcessMeter.LoadAverage());
        Console.WriteLine($"  {result.Side} {result.Kind} {result.Model} {result.Data} n={result.Images}: " +
            $"{result.Seconds:F1} s, {result.ImagesPerSecond:F1} images/s, {result.CpuSeconds:F1} CPU s, " +
            $"peak RSS {result.PeakRssMb:F0} MB, other CPU {result.ForeignPct:F1}%, load {load[^1]:F2}");
        return result;
    }

    /// <summary>Reads a JSON line printed by either side.</summary>
    public static EpochResult Parse(string line) => JsonSerializer.Deserialize<EpochResult>(line, RunResult.Json)
        ?? throw new InvalidDataException($"Not an epoch result: {line}");
}
