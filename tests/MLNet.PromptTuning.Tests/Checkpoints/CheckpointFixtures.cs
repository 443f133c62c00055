using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Data;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Checkpoints;

/// <summary>The files written by TestAssets/Checkpoints/make_fixtures.py and the configuration they fit.</summary>
internal static class CheckpointFixtures
{
    public static string Path(string name) =>
        System.IO.Path.Combine(AppContext.BaseDirectory, "TestAssets", "Checkpoints", name);

    /// <summary>The tiny ViT of the fixture script: D 16, depth 2, 2 heads, patch 4, 16x16 px, MLP 64.</summary>
    public static VitConfig Config(int imageSize = 16, int channels = 3, bool average = false) => new()
    {
        Name = "vit_fixture",
        ImageHeight = imageSize,
        ImageWidth = imageSize,
        PatchSize = 4,
        InChannels = channels,
        EmbedDim = 16,
        Depth = 2,
        NumHeads = 2,
        GlobalPooling = average ? GlobalPooling.Average : GlobalPooling.ClassToken,
        UseFcNorm = average,
        Preprocessing = channels == 3
            ? ImagePreprocessing.ImageNet(imageSize)
            : ImagePreprocessing.Inception(imageSize, 1),
    };

    public static Tensor Npy(string name) => NpyReader.Read(Path(name));

    /// <summary>The timm reference tensors (float32) of the main fixture model, without the head.</summary>
    public static Dictionary<string, Tensor> TimmBackbone()
    {
        var all = SafeTensorsReader.ReadFile(Path("vit_timm.safetensors"));
        foreach (var key in all.Keys.Where(k => k.StartsWith("head.", StringComparison.Ordinal)).ToList())
        {
            all[key].Dispose();
            all.Remove(key);
        }

        return all;
    }

    public static void DisposeAll(IEnumerable<Tensor> tensors)
    {
        foreach (var tensor in tensors)
        {
            tensor.Dispose();
        }
    }
}
