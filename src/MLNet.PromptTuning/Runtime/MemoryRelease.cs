using System.Runtime.InteropServices;

namespace MLNet.PromptTuning.Runtime;

/// <summary>
/// Hands memory that finished training steps no longer use back to the operating system, so resident memory stays
/// flat over a long run. Two things grow without it, though nothing leaks:
/// <list type="bullet">
/// <item>the managed heap: every step allocates thousands of small TorchSharp wrapper objects, and the GC lets its
/// youngest generation grow to a large budget (tens of MB) before collecting it;</item>
/// <item>glibc's arenas: libtorch allocates CPU tensors with <c>malloc</c>, and freed blocks stay in fragmented arenas
/// until <c>malloc_trim(0)</c> releases their free pages.</item>
/// </list>
/// </summary>
internal static class MemoryRelease
{
    private static volatile bool _trimUnavailable;

    /// <summary>A blocking generation-0 collection: cheap, because almost nothing a finished step allocated survives
    /// it.</summary>
    public static void CollectYoungObjects() => GC.Collect(0, GCCollectionMode.Forced, blocking: true);

    /// <summary>Calls glibc's <c>malloc_trim(0)</c>; returns false where it does not exist (Windows, macOS,
    /// musl).</summary>
    public static bool TrimNativeHeap()
    {
        if (_trimUnavailable || !OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            MallocTrim(0);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _trimUnavailable = true;
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
}
