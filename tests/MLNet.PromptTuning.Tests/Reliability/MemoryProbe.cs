using System.Globalization;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// Peak resident memory of this process during a stretch of work, on Linux: writing 5 to <c>/proc/self/clear_refs</c>
/// resets the peak (<c>VmHWM</c>) to the current size, so the peak read afterwards belongs to that work alone.
/// Elsewhere (or where the reset is not permitted) it reports 0, and only the managed and tensor measures apply.
/// </summary>
internal static class MemoryProbe
{
    private static readonly bool Available = OperatingSystem.IsLinux() && TryReset();

    /// <summary>Starts a measurement; returns the current resident size in bytes.</summary>
    public static long Start()
    {
        if (!Available)
        {
            return 0;
        }

        TryReset();
        return Read("VmRSS:");
    }

    /// <summary>The growth of the peak resident size since <paramref name="start"/>, in bytes.</summary>
    public static long PeakGrowth(long start) => Available ? Math.Max(0, Read("VmHWM:") - start) : 0;

    private static bool TryReset()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static long Read(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                var kilobytes = line[field.Length..].Trim().Split(' ')[0];
                return long.Parse(kilobytes, CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }
}
