using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using TorchSharp;

namespace MLNet.PromptTuning.Runtime;

/// <summary>
/// Makes TorchSharp's native library load on Linux distributions whose libstdc++ predates GCC 13.2, such as
/// Debian 12 and Ubuntu 22.04. TorchSharp 0.107's <c>libLibTorchSharp.so</c> declares that it needs the symbol
/// version <c>GLIBCXX_3.4.32</c> for a single symbol it never calls, so the system loader refuses it there. On such a
/// system the first use of this library writes a copy with that one requirement marked weak into a per-user cache
/// folder (<c>$XDG_CACHE_HOME/mlnet-prompttuning/native/</c>, or <c>~/.cache/...</c>), loads it together with the
/// libtorch libraries it links to, and points TorchSharp at it. The original file, in the application's output or
/// in the NuGet cache, is never modified. Elsewhere (Windows, macOS, newer Linux) it does nothing.
/// </summary>
/// <remarks>
/// This runs automatically the first time any type of this library is used. An application (or notebook) that
/// calls TorchSharp itself before it touches this library must call <see cref="EnsureLoaded"/> first: TorchSharp
/// loads its native library once, in a static constructor, and a failed load cannot be retried in that process.
/// Set the environment variable <c>MLNET_PROMPTTUNING_DISABLE_NATIVE_FIX=1</c> to turn the adjustment off.
/// </remarks>
public static class TorchNativeLibrary
{
    /// <summary>The environment variable that turns the adjustment off when set to <c>1</c> or <c>true</c>.</summary>
    public const string DisableVariable = "MLNET_PROMPTTUNING_DISABLE_NATIVE_FIX";

    /// <summary>The one version need made weak (libstdc++'s <c>std::ios_base_library_init()</c>).</summary>
    internal const string WeakenedVersion = "GLIBCXX_3.4.32";

    internal const string LibraryFileName = "libLibTorchSharp.so";
    private const string LibraryImportName = "LibTorchSharp";
    private const string LibStdCxx = "libstdc++.so.6";

    private static readonly object Gate = new();
    private static bool _done;
    private static IntPtr _handle;

    /// <summary>
    /// The adjusted copy of <c>libLibTorchSharp.so</c> this process loaded, or null when none was needed (or the
    /// adjustment is turned off).
    /// </summary>
    public static string? AdjustedLibraryPath { get; private set; }

    /// <summary>
    /// Prepares TorchSharp's native library for this process if the system needs it; does nothing on later calls
    /// and on systems that need no adjustment. Thread-safe.
    /// </summary>
    /// <exception cref="NotSupportedException">The system libraries lack other versions TorchSharp needs.</exception>
    /// <exception cref="IOException">The adjusted copy could not be written to the cache folder.</exception>
    /// <exception cref="DllNotFoundException">A library that TorchSharp's library links to did not load.</exception>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_done)
            {
                return;
            }

            if (OperatingSystem.IsLinux() && !IsDisabled() && TryLocateOriginal(out var original))
            {
                LoadAdjustedCopyIfNeeded(original);
            }

            _done = true;
        }
    }

    // Any first use of the library (a trainer, a backbone, a loaded model) comes through here before TorchSharp's
    // static constructor can attempt, and permanently fail, the native load.
    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255", Justification = "Must run before the library's first TorchSharp call.")]
    internal static void OnLibraryFirstUse() => EnsureLoaded();

    /// <summary>
    /// Reads, and if needed writes, the adjusted copy of <paramref name="original"/> under <paramref name="cacheRoot"/>
    /// (asked for only when a copy is needed); returns its path and the libraries it links to, or null when
    /// <paramref name="loadedLibStdCxx"/> provides the version.
    /// </summary>
    /// <exception cref="NotSupportedException">The libstdc++ lacks other versions the library needs.</exception>
    /// <exception cref="IOException">The copy could not be written.</exception>
    internal static (string Path, IReadOnlyList<string> NeededLibraries)? PrepareAdjustedCopy(
        string original, Func<string> cacheRoot, string loadedLibStdCxx)
    {
        var image = File.ReadAllBytes(original);
        var versions = ElfDynamicInfo.Read(image, original);
        var weakened = versions.Needs.FirstOrDefault(n => n.File == LibStdCxx && n.Version == WeakenedVersion);
        if (weakened.Version is null || weakened.IsWeak)
        {
            return null;
        }

        var provided = ElfDynamicInfo.Read(File.ReadAllBytes(loadedLibStdCxx), loadedLibStdCxx).Definitions;
        if (provided.Contains(WeakenedVersion))
        {
            return null;
        }

        var missing = versions.Needs
            .Where(n => n is { File: LibStdCxx, IsWeak: false } && n.Version != WeakenedVersion
                        && !provided.Contains(n.Version))
            .Select(n => n.Version)
            .ToList();
        if (missing.Count > 0)
        {
            throw new NotSupportedException(
                $"TorchSharp's native library '{original}' needs {string.Join(", ", missing)} from {LibStdCxx}, " +
                $"which this system's '{loadedLibStdCxx}' does not provide. It needs the libstdc++ of GCC 12 or " +
                "later (Debian 12, Ubuntu 22.04 or newer).");
        }

        ElfDynamicInfo.MarkWeak(image, weakened);
        var folder = Path.Combine(cacheRoot(), Convert.ToHexStringLower(SHA256.HashData(image))[..16]);
        var target = Path.Combine(folder, LibraryFileName);
        try
        {
            if (!File.Exists(target) || !File.ReadAllBytes(target).AsSpan().SequenceEqual(image))
            {
                WriteAtomically(folder, target, image);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException(
                $"Could not write the adjusted copy of TorchSharp's native library to '{target}': {e.Message} Set " +
                "XDG_CACHE_HOME to a writable folder.", e);
        }

        return (target, versions.NeededLibraries);
    }

    /// <summary>The per-user cache: <c>$XDG_CACHE_HOME/mlnet-prompttuning/native</c> or <c>~/.cache/…</c>.</summary>
    /// <exception cref="IOException">Neither an absolute <c>XDG_CACHE_HOME</c> nor a home folder is set.</exception>
    internal static string DefaultCacheRoot()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var root = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg) ? xdg
            : !string.IsNullOrEmpty(home) ? Path.Combine(home, ".cache")
            : throw new IOException(
                "TorchSharp's native library needs an adjusted copy on this system, but there is no home folder to " +
                "keep it in. Set XDG_CACHE_HOME to a writable folder.");
        return Path.Combine(root, "mlnet-prompttuning", "native");
    }

    private static bool IsDisabled()
    {
        var value = Environment.GetEnvironmentVariable(DisableVariable);
        return value == "1" || string.Equals(value, "true", StringComparison.OrdinalIgnoreCase);
    }

    private static void LoadAdjustedCopyIfNeeded(string original)
    {
        var libStdCxx = FindLoadedLibrary(LibStdCxx);
        if (libStdCxx is null)
        {
            return; // no libstdc++ in this process (not a glibc system): nothing to compare against
        }

        var adjusted = PrepareAdjustedCopy(original, DefaultCacheRoot, libStdCxx);
        if (adjusted is null)
        {
            return;
        }

        // The copy sits in another folder than the libtorch libraries it links to, so its $ORIGIN run path cannot
        // find them: load them first, by full path, from where the application (or the notebook's package cache)
        // has them; the loader then matches the copy's needs to them by soname.
        var torchAssembly = typeof(torch).Assembly; // typeof does not run TorchSharp's static constructor
        var libtorchFolder = FindLibtorchFolder(original, torchAssembly);
        foreach (var dependency in adjusted.Value.NeededLibraries)
        {
            LoadDependency(dependency, libtorchFolder, original);
        }

        try
        {
            _handle = NativeLibrary.Load(adjusted.Value.Path);
        }
        catch (DllNotFoundException e)
        {
            throw new DllNotFoundException(
                $"The adjusted copy of TorchSharp's native library '{adjusted.Value.Path}' did not load: {e.Message} " +
                "If the cache folder is on a file system mounted noexec, set XDG_CACHE_HOME to another folder.", e);
        }

        // TorchSharp's P/Invokes name "LibTorchSharp"; answer them with the copy. Another resolver may already be
        // registered for TorchSharp by the application: then the loader's soname match (the copy is loaded under
        // the soname libLibTorchSharp.so) still resolves them.
        try
        {
            NativeLibrary.SetDllImportResolver(torchAssembly, ResolveTorchSharpImport);
        }
        catch (InvalidOperationException)
        {
        }

        AdjustedLibraryPath = adjusted.Value.Path;
    }

    private static IntPtr ResolveTorchSharpImport(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == LibraryImportName ? _handle : IntPtr.Zero;

    /// <summary>
    /// Finds <c>libLibTorchSharp.so</c> where the runtime would: the application's native search folders (build
    /// output, publish folder), then beside TorchSharp.dll, then the NuGet package layout (.NET Interactive loads
    /// TorchSharp.dll straight from the package cache).
    /// </summary>
    private static bool TryLocateOriginal([NotNullWhen(true)] out string? path)
    {
        var folders = new List<string>();
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string searchFolders)
        {
            folders.AddRange(searchFolders.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        }

        folders.Add(AppContext.BaseDirectory);
        var torchFolder = Path.GetDirectoryName(typeof(torch).Assembly.Location);
        if (!string.IsNullOrEmpty(torchFolder))
        {
            folders.Add(torchFolder);
            folders.Add(Path.Combine(torchFolder, "..", "..", "runtimes", "linux-x64", "native"));
        }

        path = folders.Select(f => Path.GetFullPath(Path.Combine(f, LibraryFileName))).FirstOrDefault(File.Exists);
        return path is not null;
    }

    /// <summary>
    /// The folder holding libtorch (<c>libtorch_cpu.so</c> and its siblings): beside the original in an application's
    /// output, or the <c>libtorch-cpu-linux-x64</c> package of the version TorchSharp was built for when TorchSharp
    /// runs from the NuGet package cache (.NET Interactive). It is never found through the system search path,
    /// where another libtorch (a distribution's PyTorch) may live.
    /// </summary>
    private static string FindLibtorchFolder(string original, Assembly torchAssembly)
    {
        const string marker = "libtorch_cpu.so";
        var originalFolder = Path.GetDirectoryName(original)!;
        if (File.Exists(Path.Combine(originalFolder, marker)))
        {
            return originalFolder;
        }

        // <packages>/torchsharp/<version>/runtimes/linux-x64/native/libLibTorchSharp.so
        var torchSharpPackage = Path.GetFullPath(Path.Combine(originalFolder, "..", "..", ".."));
        var version = LibtorchPackageVersion(torchAssembly);
        var inPackageCache = Path.GetFileName(Path.GetDirectoryName(torchSharpPackage)) == "torchsharp";
        var candidate = inPackageCache && version is not null
            ? Path.Combine(torchSharpPackage, "..", "..", "libtorch-cpu-linux-x64", version, "runtimes", "linux-x64",
                "native")
            : null;
        if (candidate is not null && File.Exists(Path.Combine(candidate, marker)))
        {
            return Path.GetFullPath(candidate);
        }

        var where = candidate is null ? "" : $" nor in '{Path.GetFullPath(candidate)}'";
        throw new DllNotFoundException(
            $"libtorch ({marker}) was found neither beside TorchSharp's native library '{original}'{where}. " +
            "Reference the native backend package (TorchSharp-cpu, or TorchSharp-cuda-linux in an application) where " +
            "TorchSharp is referenced.");
    }

    /// <summary>
    /// The libtorch package version TorchSharp was built against (its private constant, "2.10.0.0" written as
    /// NuGet normalises it, "2.10.0"). Read as metadata: no TorchSharp code runs.
    /// </summary>
    private static string? LibtorchPackageVersion(Assembly torchAssembly)
    {
        var field = torchAssembly.GetType("TorchSharp.torch")
            ?.GetField("libtorchPackageVersion", BindingFlags.NonPublic | BindingFlags.Static);
        if (field?.IsLiteral != true || field.GetRawConstantValue() is not string raw
            || !Version.TryParse(raw, out var parsed))
        {
            return null;
        }

        return parsed.Revision > 0 ? parsed.ToString() : parsed.ToString(3);
    }

    private static void LoadDependency(string name, string libtorchFolder, string original)
    {
        var path = Path.Combine(libtorchFolder, name);
        var target = File.Exists(path) ? path : name; // system libraries (libstdc++, libc) by their soname
        try
        {
            NativeLibrary.Load(target);
        }
        catch (DllNotFoundException e)
        {
            throw new DllNotFoundException(
                $"'{name}', which TorchSharp's native library '{original}' links to, did not load from " +
                $"'{target}': {e.Message}", e);
        }
    }

    /// <summary>The file of the loaded library <paramref name="soname"/> (from /proc/self/maps), or null.</summary>
    internal static string? FindLoadedLibrary(string soname)
    {
        if (!NativeLibrary.TryLoad(soname, out _))
        {
            return null;
        }

        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            var path = fields.Length == 6 ? fields[5].Trim() : "";
            var file = Path.GetFileName(path);
            if (path.StartsWith('/') && (file == soname || file.StartsWith(soname + ".", StringComparison.Ordinal)))
            {
                return path;
            }
        }

        return null;
    }

    private static void WriteAtomically(string folder, string target, byte[] image)
    {
        Directory.CreateDirectory(folder);
        var temporary = Path.Combine(folder, $"{LibraryFileName}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(image);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, target, overwrite: true); // rename(2): readers see the old file or the new one
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
