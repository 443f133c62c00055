using MLNet.PromptTuning.Checkpoints;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Checkpoints;

/// <summary>Every layout maps to exactly the timm tensors of the same fixture model, bit for bit.</summary>
public sealed class KeyMapTests
{
    [Theory]
    [InlineData("vit_timm.safetensors", CheckpointFormat.Timm, true)]
    [InlineData("vit_hf.safetensors", CheckpointFormat.HuggingFace, true)]
    [InlineData("vit_hf_model.safetensors", CheckpointFormat.HuggingFace, false)]
    [InlineData("vit_jax.npz", CheckpointFormat.JaxNpz, true)]
    [InlineData("vit_jax_in21k_compressed.npz", CheckpointFormat.JaxNpz, false)]
    [InlineData("vit_mocov3_linear.safetensors", CheckpointFormat.MocoV3, true)]
    [InlineData("vit_mocov3_pretrain.safetensors", CheckpointFormat.MocoV3, false)]
    [InlineData("vit_mae.safetensors", CheckpointFormat.Mae, false)]
    public void EveryLayoutGivesTheTimmTensorsExactly(string file, CheckpointFormat format, bool hasTrainedHead)
    {
        var timm = CheckpointFixtures.TimmBackbone();
        using var checkpoint = BackboneCheckpoint.Read(CheckpointFixtures.Path(file));
        Assert.Equal(format, checkpoint.Format);
        Assert.Equal(timm.Keys.Order(StringComparer.Ordinal), checkpoint.Tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, expected) in timm)
        {
            Assert.True(TinyModels.Same(expected, checkpoint.Tensors[key]), $"{file}: {key} differs");
        }

        using var reference = SafeTensorsReader.Open(CheckpointFixtures.Path("vit_timm.safetensors"));
        if (hasTrainedHead)
        {
            using var weight = reference.ReadTensor("head.weight");
            using var bias = reference.ReadTensor("head.bias");
            Assert.True(TinyModels.Same(weight, checkpoint.HeadTensors["head.weight"]));
            Assert.True(TinyModels.Same(bias, checkpoint.HeadTensors["head.bias"]));
        }

        CheckpointFixtures.DisposeAll(timm.Values);
    }

    [Theory]
    [InlineData("vit_hf_model.safetensors", new[] { "pooler.dense.weight", "pooler.dense.bias" })]
    [InlineData("vit_jax_in21k_compressed.npz", new[] { "pre_logits/kernel", "pre_logits/bias" })]
    [InlineData("vit_mae.safetensors", new[] { "mask_token", "decoder_norm.weight" })]
    [InlineData("vit_mocov3_pretrain.safetensors", new[]
    {
        "module.base_encoder.head.0.weight", "module.base_encoder.head.1.num_batches_tracked",
        "module.momentum_encoder.cls_token", "module.predictor.0.weight",
    })]
    public void UnusedSourceTensorsAreReportedAsIgnored(string file, string[] ignored)
    {
        using var checkpoint = BackboneCheckpoint.Read(CheckpointFixtures.Path(file));
        Assert.All(ignored, key => Assert.Contains(key, checkpoint.IgnoredKeys));
        Assert.DoesNotContain(checkpoint.HeadTensors.Keys, k => k is not ("head.weight" or "head.bias"));
    }

    [Fact]
    public void OriginalIn21kJaxHeadIsReturnedTransposedAndZero()
    {
        using var checkpoint = BackboneCheckpoint.Read(CheckpointFixtures.Path("vit_jax_in21k_compressed.npz"));
        Assert.Equal(new long[] { 5, 16 }, checkpoint.HeadTensors["head.weight"].shape);
        Assert.Equal(0f, checkpoint.HeadTensors["head.weight"].abs().max().item<float>());
    }

    [Fact]
    public void MixedStorageDtypesAreConvertedToFloat32()
    {
        using var checkpoint = BackboneCheckpoint.Read(CheckpointFixtures.Path("vit_timm_mixed_dtypes.safetensors"));
        Assert.All(checkpoint.Tensors.Values, t => Assert.Equal(ScalarType.Float32, t.dtype));
        using var raw = SafeTensorsReader.Open(CheckpointFixtures.Path("vit_timm_mixed_dtypes.safetensors"));
        Assert.Equal("BF16", raw.GetInfo("blocks.1.mlp.fc1.weight").DType);
        using var bf16 = raw.ReadTensor("blocks.1.mlp.fc1.weight");
        using var widened = bf16.to(ScalarType.Float32);
        Assert.True(TinyModels.Same(widened, checkpoint.Tensors["blocks.1.mlp.fc1.weight"]));
    }

    [Fact]
    public void HuggingFaceConcatenatesQueryKeyValueInThatOrder()
    {
        using var scope = torch.NewDisposeScope();
        var source = new Dictionary<string, Tensor>
        {
            ["vit.encoder.layer.3.attention.attention.value.weight"] = torch.full(2, 2, 3f),
            ["vit.encoder.layer.3.attention.attention.query.weight"] = torch.full(2, 2, 1f),
            ["vit.encoder.layer.3.attention.attention.key.weight"] = torch.full(2, 2, 2f),
            ["vit.encoder.layer.3.attention.output.dense.bias"] = torch.zeros(2),
            ["vit.encoder.layer.3.output.dense.bias"] = torch.zeros(2),
            ["vit.encoder.layer.3.intermediate.dense.weight"] = torch.zeros(8, 2),
            ["classifier.weight"] = torch.zeros(4, 2),
            ["vit.pooler.dense.bias"] = torch.zeros(2),
        };
        var result = HuggingFaceKeyMap.Remap(source);
        var qkv = result.Backbone["blocks.3.attn.qkv.weight"];
        Assert.Equal(new long[] { 6, 2 }, qkv.shape);
        Assert.Equal(new float[] { 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3 }, qkv.data<float>().ToArray());
        Assert.Contains("blocks.3.attn.proj.bias", result.Backbone.Keys);
        Assert.Contains("blocks.3.mlp.fc2.bias", result.Backbone.Keys);
        Assert.Contains("blocks.3.mlp.fc1.weight", result.Backbone.Keys);
        Assert.Contains("head.weight", result.Head.Keys);
        Assert.Equal(["vit.pooler.dense.bias"], result.Ignored);
    }

    [Fact]
    public void HuggingFaceWithoutKeyProjectionIsRejected()
    {
        using var scope = torch.NewDisposeScope();
        var source = new Dictionary<string, Tensor>
        {
            ["encoder.layer.0.attention.attention.query.bias"] = torch.zeros(2),
            ["encoder.layer.0.attention.attention.value.bias"] = torch.zeros(2),
        };
        var error = Assert.Throws<InvalidDataException>(() => HuggingFaceKeyMap.Remap(source));
        Assert.Contains("Layer 0", error.Message);
        Assert.Contains("no key bias", error.Message);
    }

    [Fact]
    public void JaxPerHeadKernelsBecomeTorchLinearWeights()
    {
        using var scope = torch.NewDisposeScope();
        // D = 4, H = 2, hd = 2: kernel[i, h, j] is the weight from input i to output h*2+j.
        var query = torch.arange(16, dtype: ScalarType.Float32).reshape(4, 2, 2);
        var source = new Dictionary<string, Tensor>
        {
            ["Transformer/encoderblock_0/MultiHeadDotProductAttention_1/query/kernel"] = query,
            ["Transformer/encoderblock_0/MultiHeadDotProductAttention_1/key/kernel"] = query + 100,
            ["Transformer/encoderblock_0/MultiHeadDotProductAttention_1/value/kernel"] = query + 200,
            ["Transformer/encoderblock_0/MultiHeadDotProductAttention_1/out/kernel"] = query.reshape(2, 2, 4),
            ["Transformer/encoderblock_0/LayerNorm_2/scale"] = torch.full(4, 2f),
            ["Transformer/encoderblock_0/LayerNorm_0/scale"] = torch.full(4, 1f),
            ["Transformer/encoderblock_0/MlpBlock_3/Dense_1/kernel"] = torch.zeros(16, 4),
        };
        var result = JaxNpzKeyMap.Remap(source);
        var qkv = result.Backbone["blocks.0.attn.qkv.weight"];
        Assert.Equal(new long[] { 12, 4 }, qkv.shape);
        for (var output = 0; output < 4; output++)
        {
            for (var input = 0; input < 4; input++)
            {
                Assert.Equal(input * 4 + output, qkv[output, input].item<float>());
                Assert.Equal(input * 4 + output + 200, qkv[8 + output, input].item<float>());
            }
        }

        // out: kernel[h, j, o] is the weight from attention channel h*2+j to output o.
        var proj = result.Backbone["blocks.0.attn.proj.weight"];
        Assert.Equal(6f, proj[2, 1].item<float>()); // kernel[0, 1, 2] = 1*4 + 2
        Assert.Equal(1f, result.Backbone["blocks.0.norm1.weight"][0].item<float>());
        Assert.Equal(2f, result.Backbone["blocks.0.norm2.weight"][0].item<float>());
        Assert.Equal(new long[] { 4, 16 }, result.Backbone["blocks.0.mlp.fc2.weight"].shape);
    }

    [Fact]
    public void MocoV3LinearHeadIsKeptAndPretrainingProjectorDropped()
    {
        using var scope = torch.NewDisposeScope();
        var source = new Dictionary<string, Tensor>
        {
            ["module.cls_token"] = torch.zeros(1, 1, 4),
            ["module.head.weight"] = torch.zeros(10, 4),
            ["module.base_encoder.blocks.0.norm1.weight"] = torch.zeros(4),
            ["module.base_encoder.head.3.weight"] = torch.zeros(4, 4),
        };
        var result = MocoV3KeyMap.Remap(source);
        Assert.Equal(["blocks.0.norm1.weight", "cls_token"], result.Backbone.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["head.weight"], result.Head.Keys);
        Assert.Equal(["module.base_encoder.head.3.weight"], result.Ignored);
    }

    [Fact]
    public void TimmMapDropsPreLogitsAndSetsTheHeadAside()
    {
        using var scope = torch.NewDisposeScope();
        var source = new Dictionary<string, Tensor>
        {
            ["cls_token"] = torch.zeros(1, 1, 4),
            ["pre_logits.fc.weight"] = torch.zeros(4, 4),
            ["head.bias"] = torch.zeros(3),
        };
        var result = TimmKeyMap.Remap(source);
        Assert.Equal(["cls_token"], result.Backbone.Keys);
        Assert.Equal(["head.bias"], result.Head.Keys);
        Assert.Equal(["pre_logits.fc.weight"], result.Ignored);
    }

    [Fact]
    public void UnrecognisedLayoutListsKeysSeen()
    {
        var error = Assert.Throws<InvalidDataException>(() => CheckpointFormatDetector.Detect(
            ["encoder.conv1.weight", "encoder.bn1.running_mean", "fc.weight"], "resnet.safetensors"));
        Assert.Contains("Could not recognise the layout of 'resnet.safetensors' (3 tensors)", error.Message);
        Assert.Contains("encoder.conv1.weight, encoder.bn1.running_mean, fc.weight", error.Message);
    }

    [Fact]
    public void ExplicitFormatThatFindsNoBackboneSaysSoAndListsKeys()
    {
        var error = Assert.Throws<InvalidDataException>(() =>
            BackboneCheckpoint.Read(CheckpointFixtures.Path("vit_hf.safetensors"), CheckpointFormat.JaxNpz));
        Assert.Contains("no ViT backbone tensors in the JaxNpz layout", error.Message);
        Assert.Contains("vit.embeddings.cls_token", error.Message);
    }
}
