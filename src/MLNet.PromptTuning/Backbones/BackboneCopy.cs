using TorchSharp;

namespace MLNet.PromptTuning.Backbones;

/// <summary>
/// A private copy of a backbone: same architecture, values, element type and device. A model takes one when it must
/// change its backbone (train it, or convert it to bfloat16) and the backbone belongs to the caller, who may share it
/// with other models: the copy costs the backbone's memory once more, and leaves the caller's bit-identical.
/// </summary>
internal static class BackboneCopy
{
    /// <summary>Copies <paramref name="source"/>; the caller owns (and disposes) the copy.</summary>
    public static VisionTransformer Of(VisionTransformer source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var copy = new VisionTransformer(source.Config);
        try
        {
            using var noGrad = torch.no_grad();
            var reference = source.state_dict().Values.First();
            if (reference.dtype != copy.state_dict().Values.First().dtype)
            {
                copy.to(reference.dtype); // A bfloat16 backbone stays bfloat16 (its values convert back exactly).
            }

            var target = copy.state_dict();
            foreach (var (name, tensor) in source.state_dict())
            {
                target[name].copy_(tensor);
            }

            copy.to(reference.device);
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }
}
