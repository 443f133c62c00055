using System.Globalization;

namespace MLNet.PromptTuning.Samples.Benchmarks;

/// <summary>
/// Reads what the benchmark needs from /proc: the machine's busy and total jiffies, this process's own CPU time, and
/// its resident set size. "Other processes' CPU share" is (machine busy − own) / machine total over an interval, in
/// percent of all CPUs; hypervisor steal is reported on its own because it slows a run without showing as busy here.
/// </summary>
internal static class ProcessMeter
{
    public static CpuSample Sample()
    {
        var fields = File.ReadLines("/proc/stat").First()
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        // user nice system idle iowait irq softirq steal (guest time is already inside user and nice).
        long total = fields.Take(8).Sum();
        long busy = total - fields[3] - fields[4];
        long steal = fields.Length > 7 ? fields[7] : 0;
        var stat = File.ReadAllText("/proc/self/stat");
        var own = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long ownTicks = long.Parse(own[11], CultureInfo.InvariantCulture)
            + long.Parse(own[12], CultureInfo.InvariantCulture);
        return new CpuSample(busy, total, steal, ownTicks);
    }

    /// <summary>Other processes' share and steal, in percent of the machine, between two samples.</summary>
    public static (double ForeignPercent, double StealPercent) Share(CpuSample start, CpuSample end)
    {
        long total = end.Total - start.Total;
        if (total <= 0)
        {
            return (0, 0);
        }

        double foreign = Math.Max(0, (end.Busy - start.Busy - (end.Own - start.Own)) * 100.0 / total);
        return (foreign, (end.Steal - start.Steal) * 100.0 / total);
    }

    /// <summary>The machine's 1-minute load average.</summary>
    public static double LoadAverage() =>
        double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);

    /// <summary>Megabytes this process has read through read system calls so far (<c>rchar</c> of
    /// /proc/self/io: files, including the page cache, and pipes).</summary>
    public static double ReadMb() => Field("/proc/self/io", "rchar") is { } bytes
        ? double.Parse(bytes, CultureInfo.InvariantCulture) / 1e6
        : double.NaN;

    /// <summary>A /proc/self/status value in MB (VmRSS, VmHWM).</summary>
    public static double StatusMb(string key) => Field("/proc/self/status", key) is { } value
        ? double.Parse(value.Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0 // kB
        : double.NaN;

    /// <summary>The text after "<paramref name="key"/>:" in a /proc file of "key: value" lines, or null.</summary>
    private static string? Field(string path, string key) => File.ReadLines(path)
        .FirstOrDefault(line => line.StartsWith(key + ":", StringComparison.Ordinal))?[(key.Length + 1)..].Trim();
}

internal readonly record struct CpuSample(long Busy, long Total, long Steal, long Own);
