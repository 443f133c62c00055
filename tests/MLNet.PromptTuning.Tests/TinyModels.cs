using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests;

/// <summary>Small backbones and inputs that keep tests fast on two cores.</summary>
internal static class TinyModels
{
    public static VitConfig Config(int depth = 3, int channels = 3, int imageSize = 16, int patchSize = 4) => new()
    {
        Name = "vit_test",
        ImageHeight = imageSize,
        ImageWidth = imageSize,
        PatchSize = patchSize,
        InChannels = channels,
        EmbedDim = 32,
        Depth = depth,
        NumHeads = 2,
        Preprocessing = channels == 3 ? ImagePreprocessing.ImageNet(imageSize)
            : ImagePreprocessing.Inception(imageSize, 1),
    };

    /// <summary>
    /// A tiny backbone whose weights are re-drawn with a larger spread than timm's 0.02 initialisation, so attention is
    /// far from uniform and every branch visibly affects the output, as in a pretrained model.
    /// </summary>
    public static VisionTransformer Backbone(int seed = 7, int depth = 3, int channels = 3)
    {
        torch.manual_seed(seed);
        var backbone = new VisionTransformer(Config(depth, channels));
        using var noGrad = torch.no_grad();
        foreach (var (name, parameter) in backbone.named_parameters())
        {
            if (!name.Contains("norm"))
            {
                parameter.normal_(0, name.EndsWith("bias") ? 0.1 : 0.3);
            }
        }

        return backbone;
    }

    public static Tensor Images(int batch = 4, int seed = 11, int channels = 3, int size = 16)
    {
        var generator = new torch.Generator((ulong)seed);
        return torch.randn(new long[] { batch, channels, size, size }, generator: generator);
    }

    /// <summary>True when both tensors have the same shape and bit-identical values.</summary>
    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && torch.eq(a, b).all().item<bool>();

    public static float MaxAbsDifference(Tensor a, Tensor b) => (a - b).abs().max().item<float>();
}
