using System.Security.Cryptography;
using System.Text;
using MLNet.PromptTuning.Backbones;

namespace MLNet.PromptTuning.Persistence;

/// <summary>
/// A SHA-256 over a backbone's tensors (names, dtypes, shapes and bytes, in name order), so an adapter can refuse a
/// backbone other than the one it was trained on.
/// </summary>
public static class BackboneFingerprint
{
    /// <summary>Computes the fingerprint, formatted as <c>sha256:&lt;hex&gt;</c>.</summary>
    public static string Compute(VisionTransformer backbone)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, tensor) in backbone.state_dict().OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"{name}|{tensor.dtype}|{string.Join(",", tensor.shape)}\n"));
            using var cpu = tensor.detach().cpu().contiguous();
            hash.AppendData(cpu.bytes);
        }

        return "sha256:" + Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
    }
}
