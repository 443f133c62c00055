using MLNet.PromptTuning.Runtime;
using Xunit;

namespace MLNet.PromptTuning.Tests.Runtime;

/// <summary>Writing a folder atomically: a staging folder named like a temporary file, moved into place.</summary>
public sealed class AtomicFileTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("atomic-file-").FullName;

    [Fact]
    public void WriteDirectoryMovesACompleteFolderIntoPlaceAndLeavesNoStagingFolder()
    {
        string target = Path.Combine(_folder, "out");
        string? staging = null;
        AtomicFile.WriteDirectory(target, into =>
        {
            staging = into;
            Assert.Equal(_folder, Path.GetDirectoryName(into));
            Assert.StartsWith(".out.", Path.GetFileName(into), StringComparison.Ordinal);
            Assert.EndsWith(".tmp", into, StringComparison.Ordinal);
            Assert.False(Directory.Exists(target)); // nothing is visible at the target until the folder is complete
            File.WriteAllText(Path.Combine(into, "a.txt"), "a");
            Directory.CreateDirectory(Path.Combine(into, "sub"));
            File.WriteAllText(Path.Combine(into, "sub", "b.txt"), "b");
        });

        Assert.False(Directory.Exists(staging));
        Assert.Equal("b", File.ReadAllText(Path.Combine(target, "sub", "b.txt")));
        Assert.Equal(new[] { target }, Directory.GetFileSystemEntries(_folder));
    }

    [Fact]
    public void WriteDirectoryReplacesOnlyAnEmptyFolderAndCleansUpAfterAFailure()
    {
        string target = Directory.CreateDirectory(Path.Combine(_folder, "out")).FullName;
        AtomicFile.WriteDirectory(target, into => File.WriteAllText(Path.Combine(into, "a.txt"), "1"));
        Assert.Equal("1", File.ReadAllText(Path.Combine(target, "a.txt")));

        Assert.Throws<IOException>(() =>
            AtomicFile.WriteDirectory(target, into => File.WriteAllText(Path.Combine(into, "a.txt"), "2")));
        Assert.Equal("1", File.ReadAllText(Path.Combine(target, "a.txt")));

        string other = Path.Combine(_folder, "other");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.WriteDirectory(other, into =>
        {
            File.WriteAllText(Path.Combine(into, "a.txt"), "half");
            throw new InvalidOperationException("the writer failed");
        }));
        Assert.False(Directory.Exists(other));
        Assert.Equal(new[] { target }, Directory.GetFileSystemEntries(_folder));
    }

    [Fact]
    public void WriteDirectoryRemovesTheStagingFoldersOfDeadProcesses()
    {
        string stale = Path.Combine(_folder, $".out.{int.MaxValue - 1}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(Path.Combine(stale, "sub"));
        File.WriteAllText(Path.Combine(stale, "sub", "half.txt"), "half");
        string otherTarget = Path.Combine(_folder, $".outer.{int.MaxValue - 1}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(otherTarget);

        // "out.5": its staging folder starts with ".out." and a number too, but belongs to another target.
        string dottedTarget = Path.Combine(_folder, $".out.5.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(dottedTarget);

        AtomicFile.WriteDirectory(Path.Combine(_folder, "out"), into => File.WriteAllText(Path.Combine(into, "a"), ""));
        Assert.False(Directory.Exists(stale));
        Assert.True(Directory.Exists(otherTarget)); // another target's leftovers wait for a save of that target
        Assert.True(Directory.Exists(dottedTarget));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
