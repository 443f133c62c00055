using System.IO.Compression;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Reads NumPy <c>.npz</c> archives, stored (<c>np.savez</c>) or deflated (<c>np.savez_compressed</c>), including
/// ZIP64 archives. Keys are the entry names without <c>.npy</c> and may contain <c>/</c>
/// (for example <c>Transformer/encoderblock_0/LayerNorm_0/scale</c>).
/// </summary>
public static class NpzReader
{
    /// <summary>Reads every array of an archive into a new dictionary (archive order); the caller owns the
    /// tensors.</summary>
    /// <exception cref="InvalidDataException">The file is not a zip archive of .npy entries, or an entry is
    /// corrupt.</exception>
    /// <exception cref="NotSupportedException">An array has an unsupported element type or byte order.</exception>
    public static Dictionary<string, Tensor> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
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
                    using var stream = entry.Open();
                    result[key] = NpyReader.Read(stream, $"{path}:{entry.FullName}", entry.Length);
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
}
