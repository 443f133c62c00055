using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Runtime;

namespace MLNet.PromptTuning.Persistence;

/// <summary>
/// A SHA-256 over a backbone's tensors (names, dtypes, shapes and bytes, in name order), so an adapter can refuse a
/// backbone other than the one it was trained on, and a saved model can prove its backbone was read back unchanged.
/// </summary>
public static class BackboneFingerprint
{
    /// <summary>Computes the fingerprint, formatted as <c>sha256:&lt;hex&gt;</c>.</summary>
    public static string Compute(VisionTransformer backbone)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        return Sha256Digest.Of(backbone.state_dict());
    }
}
