using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Checkpoints;

/// <summary>
/// Loads every fixture into the real backbone and compares features and logits with the plain-PyTorch reference
/// forward of make_fixtures.py.
/// </summary>
public sealed class CheckpointLoadingTests : IDisposable
{
    private const float Tolerance = 1e-5f;
    private readonly string _directory = Directory.CreateTempSubdirectory("ckpt-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("vit_timm.safetensors", true)]
    [InlineData("vit_hf.safetensors", true)]
    [InlineData("vit_hf_model.safetensors", false)]
    [InlineData("vit_jax.npz", true)]
    [InlineData("vit_jax_in21k_compressed.npz", false)]
    [InlineData("vit_mocov3_linear.safetensors", true)]
    [InlineData("vit_mocov3_pretrain.safetensors", false)]
    public void FeaturesAndLogitsMatchPyTorchForEveryLayout(string file, bool hasTrainedHead)
    {
        AssertParity(file, CheckpointFixtures.Config(), "input.npy", "ref_features.npy",
            hasTrainedHead ? "ref_logits.npy" : null);
    }

    [Fact]
    public void HalfPrecisionStorageMatchesPyTorchOnTheRoundedWeights()
    {
        AssertParity("vit_timm_mixed_dtypes.safetensors", CheckpointFixtures.Config(), "input.npy",
            "ref_mixed_features.npy", "ref_mixed_logits.npy");
    }

    [Fact]
    public void OneChannelCheckpointMatchesPyTorch()
    {
        AssertParity("vit_gray_timm.safetensors", CheckpointFixtures.Config(channels: 1), "input_gray.npy",
            "ref_gray_features.npy", "ref_gray_logits.npy");
    }

    [Fact]
    public void OtherImageSizeResamplesPosEmbedLikeTimm()
    {
        var report = AssertParity("vit_timm.safetensors", CheckpointFixtures.Config(imageSize: 24), "input_24.npy",
            "ref_24_features.npy", "ref_24_logits.npy");
        var adaptation = Assert.Single(report.Adaptations);
        Assert.Contains("pos_embed resampled from a 4x4 to a 6x6 patch grid", adaptation);
    }

    [Theory]
    [InlineData(FcNormSource.PretrainedNorm, "ref_mae_norm_features.npy", "taken from the checkpoint's norm")]
    [InlineData(FcNormSource.FreshIdentity, "ref_mae_fresh_features.npy", "fc_norm set to identity")]
    public void MaeConventionsMatchPyTorch(FcNormSource source, string reference, string adaptation)
    {
        var options = new CheckpointLoadOptions { FcNormSource = source };
        var report = AssertParity("vit_mae.safetensors", CheckpointFixtures.Config(average: true), "input.npy",
            reference, null, options);
        Assert.Equal(CheckpointFormat.Mae, report.Format);
        Assert.Contains(adaptation, Assert.Single(report.Adaptations));
        Assert.Contains("mask_token", report.IgnoredKeys);
        Assert.Equal(source == FcNormSource.FreshIdentity, report.IgnoredKeys.Contains("norm.weight"));
    }

    [Fact]
    public void MaeConventionsReallyDiffer()
    {
        using var a = CheckpointFixtures.Npy("ref_mae_norm_features.npy");
        using var b = CheckpointFixtures.Npy("ref_mae_fresh_features.npy");
        Assert.True(TinyModels.MaxAbsDifference(a, b) > 0.01f);
    }

    [Fact]
    public void ThreeChannelWeightsInAOneChannelBackboneEqualGreyRepeatedOnThreeChannels()
    {
        using var rgb = new VisionTransformer(CheckpointFixtures.Config());
        using var grey = new VisionTransformer(CheckpointFixtures.Config(channels: 1));
        BackboneCheckpoint.Load(rgb, CheckpointFixtures.Path("vit_timm.safetensors"));
        var report = BackboneCheckpoint.Load(grey, CheckpointFixtures.Path("vit_timm.safetensors"));
        Assert.Contains("summed over its 3 input channels", Assert.Single(report.Adaptations));

        using var image = CheckpointFixtures.Npy("input_gray.npy");                       // [2, 1, 16, 16]
        using var repeated = image.repeat(1, 3, 1, 1);                                     // [2, 3, 16, 16]
        using var fromGrey = grey.ForwardFeatures(image);
        using var fromRgb = rgb.ForwardFeatures(repeated);
        Assert.True(TinyModels.MaxAbsDifference(fromGrey, fromRgb) < Tolerance);
    }

    [Fact]
    public void ShapeMismatchNamesKeyExpectedAndActualAndLoadsNothing()
    {
        var config = CheckpointFixtures.Config() with { EmbedDim = 32, NumHeads = 2 };
        using var backbone = new VisionTransformer(config);
        using var before = backbone.state_dict()["blocks.0.attn.qkv.weight"].clone();
        var error = Assert.Throws<CheckpointMismatchException>(() =>
            BackboneCheckpoint.Load(backbone, CheckpointFixtures.Path("vit_timm.safetensors")));

        Assert.Contains("blocks.0.attn.qkv.weight: expected [96, 32], checkpoint has [48, 16]", error.Message);
        Assert.Contains("The checkpoint looks like: EmbedDim 16, InChannels 3, PatchSize 4, Depth 2", error.Message);
        var qkv = Assert.Single(error.ShapeMismatches, m => m.Key == "blocks.0.attn.qkv.weight");
        Assert.Equal(new long[] { 96, 32 }, qkv.Expected);
        Assert.Equal(new long[] { 48, 16 }, qkv.Actual);
        Assert.Empty(error.MissingKeys);
        Assert.True(TinyModels.Same(before, backbone.state_dict()["blocks.0.attn.qkv.weight"]));
    }

    [Fact]
    public void PosEmbedResamplingCanBeTurnedOffToMakeItAMismatch()
    {
        using var backbone = new VisionTransformer(CheckpointFixtures.Config(imageSize: 24));
        var options = new CheckpointLoadOptions { ResamplePositionEmbedding = false };
        var error = Assert.Throws<CheckpointMismatchException>(() => BackboneCheckpoint.Load(
            backbone, CheckpointFixtures.Path("vit_timm.safetensors"), options: options));
        Assert.Contains("pos_embed: expected [1, 37, 16], checkpoint has [1, 17, 16]", error.Message);
    }

    [Fact]
    public void MissingAndUnexpectedKeysAreListed()
    {
        // A deeper backbone misses blocks.2.*; a checkpoint with an extra tensor has an unexpected key.
        var path = Path.Combine(_directory, "extra.safetensors");
        var tensors = SafeTensorsReader.ReadFile(CheckpointFixtures.Path("vit_timm.safetensors"));
        tensors["reg_token"] = torch.zeros(1, 4, 16);
        SafeTensorsWriter.Write(path, tensors);
        CheckpointFixtures.DisposeAll(tensors.Values);

        using var backbone = new VisionTransformer(CheckpointFixtures.Config() with { Depth = 3 });
        var error = Assert.Throws<CheckpointMismatchException>(() => BackboneCheckpoint.Load(backbone, path));
        Assert.Contains("missing keys (12): blocks.2.", error.Message);
        Assert.Contains("blocks.2.attn.qkv.weight", error.MissingKeys);
        Assert.Contains("unexpected keys (1): reg_token", error.Message);
        Assert.Equal(["reg_token"], error.UnexpectedKeys);
        Assert.Contains("Nothing was loaded", error.Message);
    }

    [Fact]
    public void FcNormCheckpointInANormBackboneHintsAtUseFcNorm()
    {
        var path = Path.Combine(_directory, "fcnorm.safetensors");
        using (var source = new VisionTransformer(CheckpointFixtures.Config(average: true)))
        {
            BackboneCheckpoint.Save(source, path);
        }

        using var backbone = new VisionTransformer(CheckpointFixtures.Config());
        var error = Assert.Throws<CheckpointMismatchException>(() => BackboneCheckpoint.Load(backbone, path));
        Assert.Equal(["norm.bias", "norm.weight"], error.MissingKeys.Order(StringComparer.Ordinal));
        Assert.Equal(["fc_norm.bias", "fc_norm.weight"], error.UnexpectedKeys.Order(StringComparer.Ordinal));
        Assert.Contains("set VitConfig.UseFcNorm = true", error.Message);
    }

    [Fact]
    public void SaveThenLoadIsBitIdenticalAndKeepsHeadAndMetadata()
    {
        using var original = TinyModels.Backbone(seed: 3, depth: 2);
        using var headWeight = torch.randn(7, 32);
        using var headBias = torch.randn(7);
        var path = Path.Combine(_directory, "saved.safetensors");
        BackboneCheckpoint.Save(original, path,
            new Dictionary<string, Tensor> { ["head.weight"] = headWeight, ["head.bias"] = headBias },
            new Dictionary<string, string> { ["note"] = "test" });

        using var copy = new VisionTransformer(original.Config);
        using var checkpoint = BackboneCheckpoint.Read(path);
        var report = checkpoint.LoadInto(copy);
        Assert.Equal(CheckpointFormat.Timm, report.Format);
        Assert.Empty(report.Adaptations);
        Assert.Equal(original.state_dict().Count, report.LoadedKeys.Count);
        Assert.Equal(new long[] { 7, 32 }, report.HeadShapes["head.weight"]);
        Assert.Equal("pt", checkpoint.Metadata["format"]);
        Assert.Equal("vit_test", checkpoint.Metadata["architecture"]);
        Assert.Equal("test", checkpoint.Metadata["note"]);
        Assert.True(TinyModels.Same(headWeight, checkpoint.HeadTensors["head.weight"]));
        var copied = copy.state_dict();
        foreach (var (key, tensor) in original.state_dict())
        {
            Assert.True(TinyModels.Same(tensor, copied[key]), key);
        }
    }

    [Fact]
    public void ZeroedJaxHeadIsNoted()
    {
        using var backbone = new VisionTransformer(CheckpointFixtures.Config());
        var report = BackboneCheckpoint.Load(backbone, CheckpointFixtures.Path("vit_jax_in21k_compressed.npz"));
        Assert.Contains(report.Notes, n => n.Contains("head.weight is all zeros"));
        Assert.Contains("pre_logits/kernel", report.IgnoredKeys);
        Assert.Contains("ignored 2 tensor(s): pre_logits/", report.ToString());
    }

    [Fact]
    public void VitBase16StateDictHasTimmsTensorsAndParameterCount()
    {
        using var backbone = new VisionTransformer(VitVariants.Base());
        var state = backbone.state_dict();
        Assert.Equal(150, state.Count);
        Assert.Equal(85_798_656L, state.Values.Sum(t => t.numel()));
        Assert.Equal(new long[] { 1, 197, 768 }, state["pos_embed"].shape);
        Assert.Equal(new long[] { 768, 3, 16, 16 }, state["patch_embed.proj.weight"].shape);
        Assert.Equal(new long[] { 2304, 768 }, state["blocks.11.attn.qkv.weight"].shape);
        Assert.Equal(new long[] { 3072, 768 }, state["blocks.11.mlp.fc1.weight"].shape);
        Assert.Equal(new long[] { 768, 3072 }, state["blocks.11.mlp.fc2.weight"].shape);
        Assert.Equal(new long[] { 768 }, state["norm.bias"].shape);
    }

    private static CheckpointLoadReport AssertParity(
        string file, VitConfig config, string input, string featuresFile, string? logitsFile,
        CheckpointLoadOptions? options = null)
    {
        using var scope = torch.NewDisposeScope();
        using var backbone = new VisionTransformer(config);
        using var checkpoint = BackboneCheckpoint.Read(CheckpointFixtures.Path(file));
        var report = checkpoint.LoadInto(backbone, options);
        var images = CheckpointFixtures.Npy(input);
        var features = backbone.ForwardFeatures(images);                                 // [B, D]
        var expected = CheckpointFixtures.Npy(featuresFile);
        var error = TinyModels.MaxAbsDifference(features, expected);
        Assert.True(error < Tolerance, $"{file}: features differ from PyTorch by {error}");
        if (logitsFile is not null)
        {
            var head = checkpoint.HeadTensors;
            var logits = torch.nn.functional.linear(features, head["head.weight"], head["head.bias"]); // [B, C]
            var logitsError = TinyModels.MaxAbsDifference(logits, CheckpointFixtures.Npy(logitsFile));
            Assert.True(logitsError < Tolerance, $"{file}: logits differ from PyTorch by {logitsError}");
        }

        return report;
    }
}
