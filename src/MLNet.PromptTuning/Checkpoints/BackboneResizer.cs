using MLNet.PromptTuning.Backbones;
using TorchSharp;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>Makes a copy of a backbone for another input resolution, resampling its position embedding as timm
/// does.</summary>
public static class BackboneResizer
{
    /// <summary>
    /// Returns a new backbone (owned by the caller) for <paramref name="height"/>×<paramref name="width"/> inputs with
    /// the same weights; the position-embedding grid is resized bicubically with antialiasing.
    /// </summary>
    /// <exception cref="ArgumentException">The size is not a positive multiple of the patch size (names
    /// both).</exception>
    public static VisionTransformer Resize(VisionTransformer source, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(source);
        int patch = source.Config.PatchSize;
        if (height <= 0 || width <= 0 || height % patch != 0 || width % patch != 0)
        {
            throw new ArgumentException(
                $"Image size {height}x{width} is not divisible by the backbone's patch size {patch}; resize the " +
                $"images " +
                $"to a multiple of {patch} or let the trainer resize them (ResizeImages = true).", nameof(height));
        }

        var target = new VisionTransformer(source.Config.WithImageSize(height, width));
        try
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var destination = target.state_dict();
            foreach (var (name, tensor) in source.state_dict())
            {
                var value = name == "pos_embed"
                    ? PositionEmbeddingResampler.Resample(tensor, target.Config.GridHeight, target.Config.GridWidth,
                        source.Config.NumPrefixTokens, (source.Config.GridHeight, source.Config.GridWidth))
                    : tensor;
                destination[name].copy_(value);
            }

            target.to(source.state_dict().Values.First().device);
            return target;
        }
        catch
        {
            target.Dispose();
            throw;
        }
    }
}
