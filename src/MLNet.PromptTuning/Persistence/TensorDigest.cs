using System.Security.Cryptography;
using System.Text;
using TorchSharp;

namespace MLNet.PromptTuning.Persistence;

/// <summary>
/// A SHA-256 over named tensors (name, dtype, shape and bytes, in name order), formatted <c>sha256:&lt;hex&gt;</c>:
/// what a saved model stores beside its weights so a load can prove it got exactly the values that were written.
/// </summary>
internal static class TensorDigest
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

        return Prefix + Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
    }
}
