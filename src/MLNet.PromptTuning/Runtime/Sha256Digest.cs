using System.Security.Cryptography;
using System.Text;
using TorchSharp;

namespace MLNet.PromptTuning.Runtime;

/// <summary>
/// SHA-256 digests as the library's files store them, <c>sha256:&lt;lower-case hex&gt;</c>: of bytes, and of named
/// tensors (name, dtype, shape and bytes, in name order), which a saved model, an adapter and a training checkpoint
/// keep beside their content so a load can prove it got exactly what was written.
/// </summary>
internal static class Sha256Digest
{
    public const string Prefix = "sha256:";

    /// <summary>The digest of <paramref name="tensors"/>; the order they come in does not matter.</summary>
    public static string Of(IEnumerable<KeyValuePair<string, torch.Tensor>> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, tensor) in tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"{name}|{tensor.dtype}|{string.Join(",", tensor.shape)}\n"));
            using var cpu = tensor.detach().cpu().contiguous();
            hash.AppendData(cpu.bytes);
        }

        return Prefix + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The digest of <paramref name="bytes"/>.</summary>
    public static string Of(ReadOnlySpan<byte> bytes) => Prefix + Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>The bare lower-case hex SHA-256 of the rest of <paramref name="stream"/> (no prefix).</summary>
    public static string HexOf(Stream stream) => Convert.ToHexStringLower(SHA256.HashData(stream));
}
