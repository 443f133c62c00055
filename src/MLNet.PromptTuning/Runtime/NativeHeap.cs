using System.Runtime.InteropServices;

namespace MLNet.PromptTuning.Runtime;

/// <summary>
/// Hands freed native heap memory back to the operating system. libtorch allocates CPU tensors with the C runtime's
/// <c>malloc</c>; glibc keeps freed blocks in its arenas, where fragmentation makes resident memory creep up over a
/// long run even though nothing leaks. <c>malloc_trim(0)</c> releases every free page of every arena.
/// </summary>
internal static class NativeHeap
{
    private static volatile bool _unavailable;

    /// <summary>Calls glibc's <c>malloc_trim(0)</c>; returns false where it does not exist (Windows, macOS, musl).</summary>
    public static bool Trim()
    {
        if (_unavailable || !OperatingSystem.IsLinux())
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
            _unavailable = true;
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
}
