using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace MLNet.PromptTuning.Runtime;

/// <summary>
/// Writes a file so that the path always holds either its previous complete content or the new complete content,
/// even if the process is killed or the machine loses power mid-save: the bytes go to a temporary file in the same
/// folder, which is flushed to disk and then renamed over the target (an atomic replace on the same file system),
/// and on Linux and macOS the folder itself is flushed so the rename is durable too.
/// </summary>
/// <remarks>
/// Temporary files are named <c>.{name}.{pid}.{random}.tmp</c>. A save that is killed leaves its temporary file
/// behind; the next save of the same path removes every such file whose process is no longer running
/// (<see cref="RemoveStale"/>), so a crash costs disk space only until then. Writers of folders use the same naming
/// for their staging folder (<see cref="WriteDirectory"/>).
/// </remarks>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>, atomically.</summary>
    /// <param name="path">The destination; replaced if it exists. Its folder is created if needed.</param>
    /// <param name="write">Writes the whole content to the stream it is given (do not dispose it).</param>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath)!;
        Directory.CreateDirectory(directory);
        RemoveStale(fullPath);
        var temporary = TemporaryPath(fullPath);
        try
        {
            using (var stream = new FileStream(
                       temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, fullPath, overwrite: true);
            FlushDirectory(directory);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>
    /// Writes the folder <paramref name="path"/> through <paramref name="write"/> so that it either does not exist or
    /// holds the complete content: the files go into a staging folder beside it (named like a temporary file, so a
    /// killed save's staging folder is removed by the next save of the same path), each is flushed to disk, and the
    /// staging folder is then renamed to <paramref name="path"/> and the parent folder flushed.
    /// </summary>
    /// <param name="path">The destination folder; must not exist, or be empty (it is replaced).</param>
    /// <param name="write">Writes the content into the staging folder whose path it is given.</param>
    /// <exception cref="IOException"><paramref name="path"/> is a folder that is not empty, or a file.</exception>
    public static void WriteDirectory(string path, Action<string> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        var fullPath = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var parent = Path.GetDirectoryName(fullPath)!;
        Directory.CreateDirectory(parent);
        RemoveStale(fullPath);
        var staging = TemporaryPath(fullPath);
        Directory.CreateDirectory(staging);
        try
        {
            write(staging);
            foreach (var file in Directory.EnumerateFiles(staging, "*", SearchOption.AllDirectories))
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Write, FileShare.None);
                stream.Flush(flushToDisk: true);
            }

            FlushDirectory(staging);
            if (Directory.Exists(fullPath))
            {
                Directory.Delete(fullPath); // Only an empty folder can be deleted this way: never a complete one.
            }

            Directory.Move(staging, fullPath);
            FlushDirectory(parent);
        }
        catch
        {
            TryDeleteDirectory(staging);
            throw;
        }
    }

    /// <summary>A new temporary path beside <paramref name="fullPath"/>, named after it and this process.</summary>
    public static string TemporaryPath(string fullPath) => Path.Combine(
        Path.GetDirectoryName(fullPath)!,
        $"{Prefix(fullPath)}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}.{Guid.NewGuid():N}.tmp");

    /// <summary>
    /// Deletes the temporary files (or staging folders) that earlier saves of <paramref name="fullPath"/> left behind
    /// when their process died. Those of live processes (a save in progress elsewhere) are kept.
    /// </summary>
    /// <returns>How many were removed.</returns>
    public static int RemoveStale(string fullPath)
    {
        var directory = Path.GetDirectoryName(fullPath)!;
        if (!Directory.Exists(directory))
        {
            return 0;
        }

        var prefix = Prefix(fullPath);
        var removed = 0;
        foreach (var candidate in Directory.EnumerateFileSystemEntries(directory, prefix + "*.tmp"))
        {
            // Exactly "{pid}.{32 hex digits}.tmp": the temporaries of a name that merely starts with this one (".a.5."
            // for "a.5" beside "a") have more parts and are left to saves of their own target.
            var parts = Path.GetFileName(candidate)[prefix.Length..].Split('.');
            if (parts.Length != 3 || parts[1].Length != 32 || !parts[1].All(char.IsAsciiHexDigit) ||
                !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ||
                IsRunning(pid))
            {
                continue;
            }

            if (Directory.Exists(candidate) ? TryDeleteDirectory(candidate) : TryDelete(candidate))
            {
                removed++;
            }
        }

        return removed;
    }

    private static string Prefix(string fullPath) => $".{Path.GetFileName(fullPath)}.";

    private static bool IsRunning(int pid)
    {
        if (pid == Environment.ProcessId)
        {
            return false; // This process deletes its own failed temporaries at once; any left are from a reused pid.
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static bool TryDelete(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // Best effort: the save itself matters more.
        }
    }

    private static bool TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Makes a rename in <paramref name="directory"/> durable (POSIX needs the folder synced).</summary>
    private static void FlushDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return; // NTFS journals the rename's metadata; there is no folder handle to flush from .NET.
        }

        var descriptor = Native.open(directory, 0 /* O_RDONLY */);
        if (descriptor < 0)
        {
            return;
        }

        try
        {
            _ = Native.fsync(descriptor);
        }
        finally
        {
            _ = Native.close(descriptor);
        }
    }

    private static class Native
    {
        [DllImport("libc", SetLastError = true)]
        public static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int fsync(int descriptor);

        [DllImport("libc", SetLastError = true)]
        public static extern int close(int descriptor);
    }
}
