using System.Diagnostics;
using System.Text;
using MLNet.PromptTuning.Runtime;
using MLNet.PromptTuning.Tests.Interop;
using Xunit;

namespace MLNet.PromptTuning.Tests.Runtime;

/// <summary>
/// The first-use step that lets TorchSharp 0.107's native library load with a libstdc++ older than GCC 13.2
/// (Debian 12, Ubuntu 22.04): the ELF reading, the one-flag adjustment, the cache file, and the process it runs in.
/// </summary>
public sealed class TorchNativeLibraryTests : IDisposable
{
    private const string LibStdCxx = "libstdc++.so.6";

    // The unmodified file the build copied from the TorchSharp package.
    private static readonly string Original =
        Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", TorchNativeLibrary.LibraryFileName);

    private readonly string _folder = Directory.CreateTempSubdirectory("torch-native-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void ReadsWhatTorchSharpsNativeLibraryLinksToAndNeeds()
    {
        var info = ElfDynamicInfo.Read(File.ReadAllBytes(Original), Original);

        Assert.Equal(new[] { "libtorch.so", "libc10.so", "libtorch_cpu.so" }, info.NeededLibraries.Take(3));
        Assert.Contains(LibStdCxx, info.NeededLibraries);
        var need = Assert.Single(info.Needs, n => n.Version == TorchNativeLibrary.WeakenedVersion);
        Assert.Equal(LibStdCxx, need.File);
        Assert.False(need.IsWeak);
        Assert.Contains(info.Needs, n => n is { File: LibStdCxx, Version: "GLIBCXX_3.4.30", IsWeak: false });
        Assert.Empty(info.Definitions);
    }

    [Fact]
    public void ReadsTheVersionsThisProcesssLibStdCxxDefines()
    {
        var loaded = TorchNativeLibrary.FindLoadedLibrary(LibStdCxx);

        Assert.NotNull(loaded);
        var definitions = ElfDynamicInfo.Read(File.ReadAllBytes(loaded), loaded).Definitions;
        Assert.Contains("GLIBCXX_3.4", definitions);
        Assert.Contains("GLIBCXX_3.4.30", definitions); // GCC 12: the oldest libstdc++ TorchSharp 0.107 can use
        Assert.Contains("CXXABI_1.3", definitions);
        Assert.Contains(LibStdCxx, definitions); // the library's own base version carries its soname
    }

    [Fact]
    public void MarkingWeakSetsOneFlagAndNothingElse()
    {
        var image = File.ReadAllBytes(Original);
        var before = ElfDynamicInfo.Read(image, Original);
        var need = before.Needs.Single(n => n.Version == TorchNativeLibrary.WeakenedVersion);

        var adjusted = (byte[])image.Clone();
        ElfDynamicInfo.MarkWeak(adjusted, need);

        var changed = Enumerable.Range(0, image.Length).Where(i => image[i] != adjusted[i]).ToArray();
        Assert.Equal(new[] { need.FlagsOffset }, changed);
        Assert.Equal(0x2, adjusted[need.FlagsOffset] ^ image[need.FlagsOffset]);
        var after = ElfDynamicInfo.Read(adjusted, "adjusted");
        Assert.Equal(before.Needs.Select(n => n with { IsWeak = n.IsWeak || n == need }), after.Needs);
    }

    [Fact]
    public void RejectsAFileThatIsNotElf64()
    {
        var script = Encoding.ASCII.GetBytes("#!/bin/sh\n");
        var e = Assert.Throws<InvalidDataException>(() => ElfDynamicInfo.Read(script, "x.so"));
        Assert.Contains("'x.so' is not a little-endian ELF64 shared library", e.Message);

        var truncated = File.ReadAllBytes(Original).AsSpan(0, 4096).ToArray();
        e = Assert.Throws<InvalidDataException>(() => ElfDynamicInfo.Read(truncated, "cut.so"));
        Assert.Contains("'cut.so' has a malformed ELF section or version table", e.Message);
    }

    [Fact]
    public void WritesTheAdjustedCopyOnceAndReusesIt()
    {
        var libStdCxx = WriteLibStdCxx(defines: false);
        var cache = Path.Combine(_folder, "cache");

        var first = TorchNativeLibrary.PrepareAdjustedCopy(Original, () => cache, libStdCxx);

        Assert.NotNull(first);
        Assert.StartsWith(cache + Path.DirectorySeparatorChar, first.Value.Path);
        var copy = ElfDynamicInfo.Read(File.ReadAllBytes(first.Value.Path), first.Value.Path);
        Assert.True(copy.Needs.Single(n => n.Version == TorchNativeLibrary.WeakenedVersion).IsWeak);
        var original = ElfDynamicInfo.Read(File.ReadAllBytes(Original), Original);
        Assert.Equal(original.NeededLibraries, first.Value.NeededLibraries);
        Assert.Equal(new[] { first.Value.Path }, Directory.GetFiles(cache, "*", SearchOption.AllDirectories));

        var written = File.GetLastWriteTimeUtc(first.Value.Path);
        File.SetLastWriteTimeUtc(first.Value.Path, written.AddHours(-1)); // a rewrite would move it forward again
        var second = TorchNativeLibrary.PrepareAdjustedCopy(Original, () => cache, libStdCxx);
        Assert.Equal(first.Value.Path, second?.Path);
        Assert.Equal(written.AddHours(-1), File.GetLastWriteTimeUtc(first.Value.Path));
    }

    [Fact]
    public void ReplacesACachedCopyWhoseBytesDiffer()
    {
        var libStdCxx = WriteLibStdCxx(defines: false);
        var cache = Path.Combine(_folder, "cache");
        var path = TorchNativeLibrary.PrepareAdjustedCopy(Original, () => cache, libStdCxx)!.Value.Path;
        var good = File.ReadAllBytes(path);
        File.WriteAllBytes(path, good.AsSpan(0, good.Length / 2).ToArray());

        TorchNativeLibrary.PrepareAdjustedCopy(Original, () => cache, libStdCxx);

        Assert.Equal(good, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(cache, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void AnUnwritableCacheIsAnErrorThatSaysWhereAndWhatToDo()
    {
        var libStdCxx = WriteLibStdCxx(defines: false);
        var notAFolder = Path.Combine(_folder, "file");
        File.WriteAllText(notAFolder, "");

        var e = Assert.Throws<IOException>(
            () => TorchNativeLibrary.PrepareAdjustedCopy(Original, () => notAFolder, libStdCxx));

        Assert.Contains($"Could not write the adjusted copy of TorchSharp's native library to '{notAFolder}/",
            e.Message);
        Assert.Contains("Set XDG_CACHE_HOME to a writable folder.", e.Message);
    }

    [Fact]
    public void LeavesTheLibraryAloneWhenTheSystemProvidesTheVersion()
    {
        var libStdCxx = WriteLibStdCxx(defines: true);
        var cache = Path.Combine(_folder, "cache");

        Assert.Null(TorchNativeLibrary.PrepareAdjustedCopy(Original, () => cache, libStdCxx));
        Assert.False(Directory.Exists(cache));
    }

    [Fact]
    public void NamesOtherMissingVersionsInsteadOfAdjustingThem()
    {
        // A "libstdc++" that defines no GLIBCXX version at all: TorchSharp's library itself.
        var e = Assert.Throws<NotSupportedException>(
            () => TorchNativeLibrary.PrepareAdjustedCopy(Original, () => Path.Combine(_folder, "cache"), Original));

        Assert.Contains($"'{Original}' needs ", e.Message);
        Assert.Contains("GLIBCXX_3.4.30", e.Message);
        Assert.DoesNotContain(TorchNativeLibrary.WeakenedVersion, e.Message);
        Assert.Contains("GCC 12 or later", e.Message);
    }

    [Fact]
    public void ThisProcessLoadedTheAdjustedCopyExactlyWhenItsLibStdCxxLacksTheVersion()
    {
        var loaded = TorchNativeLibrary.FindLoadedLibrary(LibStdCxx)!;
        var provides = ElfDynamicInfo.Read(File.ReadAllBytes(loaded), loaded).Definitions
            .Contains(TorchNativeLibrary.WeakenedVersion);
        using var product = TorchSharp.torch.ones(2, 2).matmul(TorchSharp.torch.ones(2, 2));

        var maps = File.ReadAllText("/proc/self/maps");
        if (provides)
        {
            Assert.Null(TorchNativeLibrary.AdjustedLibraryPath);
        }
        else
        {
            Assert.NotNull(TorchNativeLibrary.AdjustedLibraryPath);
            Assert.Contains(TorchNativeLibrary.AdjustedLibraryPath, maps);
            Assert.DoesNotContain(Original, maps); // TorchSharp's P/Invokes reached the copy, not the original
        }

        Assert.Equal(2f, product[0, 0].item<float>());
    }

    [Fact]
    public void InAFreshProcessTheLibrarysFirstUseIsWhatLetsTorchSharpLoad()
    {
        var withFix = RunProbe(disableFix: false);
        Assert.True(withFix.ExitCode == 0, withFix.Output);
        Assert.Contains("sum=3", withFix.Output);

        if (withFix.Output.Contains("adjusted=none", StringComparison.Ordinal))
        {
            Assert.Null(TorchNativeLibrary.AdjustedLibraryPath); // this system needs no adjustment: nothing to turn off
            return;
        }

        var withoutFix = RunProbe(disableFix: true);
        Assert.NotEqual(0, withoutFix.ExitCode);
        Assert.Contains("TypeInitializationException", withoutFix.Output);
        Assert.Contains("LibTorchSharp", withoutFix.Output);
    }

    /// <summary>
    /// Copies this process's libstdc++, renaming one version so that the copy does, or does not, define the version
    /// the adjustment is about (whatever this machine's libstdc++ defines).
    /// </summary>
    private string WriteLibStdCxx(bool defines)
    {
        var loaded = TorchNativeLibrary.FindLoadedLibrary(LibStdCxx)!;
        var image = File.ReadAllBytes(loaded);
        var (from, to) = defines ? ("GLIBCXX_3.4.21\0", "GLIBCXX_3.4.32\0") : ("GLIBCXX_3.4.32\0", "GLIBCXX_3.4.3X\0");
        var pattern = Encoding.ASCII.GetBytes(from);
        for (var at = image.AsSpan().IndexOf(pattern); at >= 0; at = image.AsSpan().IndexOf(pattern))
        {
            Encoding.ASCII.GetBytes(to).CopyTo(image, at);
        }

        var path = Path.Combine(_folder, defines ? "libstdc++-new.so.6" : "libstdc++-old.so.6");
        File.WriteAllBytes(path, image);
        var definitions = ElfDynamicInfo.Read(image, path).Definitions;
        Assert.Equal(defines, definitions.Contains(TorchNativeLibrary.WeakenedVersion));
        return path;
    }

    private static (int ExitCode, string Output) RunProbe(bool disableFix)
    {
        var start = new ProcessStartInfo(PersistenceTests.DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(TorchNativeLibraryTests).Assembly.Location);
        start.ArgumentList.Add(TorchNativeProbe.Command);
        start.Environment.Remove(TorchNativeLibrary.DisableVariable);
        if (disableFix)
        {
            start.Environment[TorchNativeLibrary.DisableVariable] = "1";
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("The probe process did not finish within 2 minutes.");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
