using System.IO.Compression;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Reads NumPy <c>.npz</c> archives, stored (<c>np.savez</c>) or deflated (<c>np.savez_compressed</c>), including
/// ZIP64 archives. Keys are the entry names without <c>.npy</c> and may contain <c>/</c>
/// (for example <c>Transformer/encoderblock_0/LayerNorm_0/scale</c>).
/// </summary>
/// <remarks>
/// Every entry is checked against what the archive records: its CRC-32, its exact length, and sizes the archive can
/// really hold (a stored entry lies inside the file; a deflated entry cannot expand beyond deflate's 1032:1 ratio, and
/// its tensor takes memory only as the bytes arrive). Entry names must be unique. A damaged entry is refused, never
/// loaded.
/// </remarks>
public static class NpzReader
{
    /// <summary>Reads every array of an archive into a new dictionary (archive order); the caller owns the
    /// tensors.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// The file is not a zip archive of .npy entries, an entry is corrupt (CRC, length, header), or two entries share
    /// a name.
    /// </exception>
    /// <exception cref="NotSupportedException">An array has an unsupported element type or byte order.</exception>
    public static Dictionary<string, Tensor> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return CheckpointErrors.Guard(path, () => ReadArchive(path));
    }

    private static Dictionary<string, Tensor> ReadArchive(string path)
    {
        var archiveLength = new FileInfo(path).Length;
        ZipArchive archive;
        try
        {
            archive = ZipFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}' is not a valid .npz archive: {e.Message}", e);
        }

        using (archive)
        {
            var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            try
            {
                foreach (var entry in archive.Entries)
                {
                    if (entry.FullName.EndsWith('/'))
                    {
                        continue;
                    }

                    if (!entry.FullName.EndsWith(".npy", StringComparison.Ordinal))
                    {
                        throw new InvalidDataException(
                            $"'{path}' is not a .npz archive: entry '{entry.FullName}' is not a .npy array.");
                    }

                    var key = entry.FullName[..^4];
                    if (result.ContainsKey(key))
                    {
                        throw new InvalidDataException($"'{path}' has two entries named '{entry.FullName}'.");
                    }

                    result[key] = ReadEntry(entry, archiveLength, $"{path}:{entry.FullName}");
                }

                return result;
            }
            catch
            {
                foreach (var tensor in result.Values)
                {
                    tensor.Dispose();
                }

                throw;
            }
        }
    }

    private static Tensor ReadEntry(ZipArchiveEntry entry, long archiveLength, string source)
    {
        using var stream = ZipEntryReadStream.Open(entry, archiveLength, source);

        // A stored entry's bytes lie in the file; a deflated entry's size is only recorded, so memory follows the data.
        var extent = entry.Length <= entry.CompressedLength
            ? NpyExtent.Present(entry.Length, exact: true)
            : NpyExtent.Declared(entry.Length);
        var tensor = NpyReader.Read(stream, source, extent);
        try
        {
            stream.VerifyComplete("the array");
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }
}
