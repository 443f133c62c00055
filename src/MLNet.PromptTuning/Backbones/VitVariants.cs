using MLNet.PromptTuning.Data;

namespace MLNet.PromptTuning.Backbones;

/// <summary>
/// Named ViT variants with timm's names and hyper-parameters. Any patch size, image size and channel count can be
/// requested from <see cref="Create(string, int, int, int)"/>; the short factories cover the common ones.
/// </summary>
public static class VitVariants
{
    private static readonly IReadOnlyDictionary<string, (int Width, int Depth, int Heads)> Sizes =
        new Dictionary<string, (int, int, int)>(StringComparer.OrdinalIgnoreCase)
        {
            ["tiny"] = (192, 12, 3),
            ["small"] = (384, 12, 6),
            ["base"] = (768, 12, 12),
            ["large"] = (1024, 24, 16),
        };

    /// <summary>The size names accepted by <see cref="Create(string, int, int, int)"/>.</summary>
    public static IReadOnlyCollection<string> SizeNames => Sizes.Keys.ToArray();

    /// <summary>ViT-Ti: width 192, 12 blocks, 3 heads.</summary>
    public static VitConfig Tiny(int patchSize = 16, int imageSize = 224, int channels = 3) =>
        Create("tiny", patchSize, imageSize, channels);

    /// <summary>ViT-S: width 384, 12 blocks, 6 heads.</summary>
    public static VitConfig Small(int patchSize = 16, int imageSize = 224, int channels = 3) =>
        Create("small", patchSize, imageSize, channels);

    /// <summary>ViT-B: width 768, 12 blocks, 12 heads (85,798,656 backbone parameters at patch 16, 224 px).</summary>
    public static VitConfig Base(int patchSize = 16, int imageSize = 224, int channels = 3) =>
        Create("base", patchSize, imageSize, channels);

    /// <summary>ViT-L: width 1024, 24 blocks, 16 heads.</summary>
    public static VitConfig Large(int patchSize = 16, int imageSize = 224, int channels = 3) =>
        Create("large", patchSize, imageSize, channels);

    /// <summary>Creates a named size at any patch size, square image size and channel count.</summary>
    /// <param name="size">tiny, small, base or large.</param>
    /// <param name="patchSize">Patch side in pixels; must divide <paramref name="imageSize"/>.</param>
    /// <param name="imageSize">Square input side in pixels.</param>
    /// <param name="channels">1 or 3.</param>
    public static VitConfig Create(string size, int patchSize = 16, int imageSize = 224, int channels = 3)
    {
        if (!Sizes.TryGetValue(size, out var dims))
        {
            throw new ArgumentException(
                $"Unknown ViT size '{size}'; expected one of: {string.Join(", ", Sizes.Keys)}.", nameof(size));
        }

        var preprocessing = channels == 3
            ? ImagePreprocessing.ImageNet(imageSize)
            : ImagePreprocessing.Inception(imageSize, channels);
        var config = new VitConfig
        {
            Name = $"vit_{size.ToLowerInvariant()}_patch{patchSize}_{imageSize}",
            ImageHeight = imageSize,
            ImageWidth = imageSize,
            PatchSize = patchSize,
            InChannels = channels,
            EmbedDim = dims.Width,
            Depth = dims.Depth,
            NumHeads = dims.Heads,
            Preprocessing = preprocessing,
        };
        config.Validate();
        return config;
    }
}
