using MLNet.PromptTuning.Backbones;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Backbones;

public sealed class VisionTransformerTests
{
    [Fact]
    public void StateDictKeysAreTimmNames()
    {
        using var backbone = TinyModels.Backbone(depth: 1);
        var keys = backbone.state_dict().Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
        var expected = new[]
        {
            "blocks.0.attn.proj.bias", "blocks.0.attn.proj.weight", "blocks.0.attn.qkv.bias",
                "blocks.0.attn.qkv.weight",
            "blocks.0.mlp.fc1.bias", "blocks.0.mlp.fc1.weight", "blocks.0.mlp.fc2.bias", "blocks.0.mlp.fc2.weight",
            "blocks.0.norm1.bias", "blocks.0.norm1.weight", "blocks.0.norm2.bias", "blocks.0.norm2.weight",
            "cls_token", "norm.bias", "norm.weight", "patch_embed.proj.bias", "patch_embed.proj.weight", "pos_embed",
        };
        Assert.Equal(expected, keys);
        Assert.Equal(new long[] { 96, 32 }, backbone.state_dict()["blocks.0.attn.qkv.weight"].shape);
        Assert.Equal(new long[] { 1, 17, 32 }, backbone.state_dict()["pos_embed"].shape);
    }

    [Fact]
    public void FcNormVariantNamesItsFinalNormFcNorm()
    {
        using var backbone = new VisionTransformer(TinyModels.Config(depth: 1) with
        {
            GlobalPooling = GlobalPooling.Average,
            UseFcNorm = true,
        });
        var keys = backbone.state_dict().Keys.ToArray();
        Assert.Contains("fc_norm.weight", keys);
        Assert.DoesNotContain("norm.weight", keys);
    }

    [Fact]
    public void VitBase16HasTimmParameterCount()
    {
        using var backbone = new VisionTransformer(VitVariants.Base());
        Assert.Equal(85_798_656L, backbone.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void RandomInitialisationIsTimmsAndFinite()
    {
        torch.manual_seed(0);
        using var backbone = new VisionTransformer(VitVariants.Tiny());
        var state = backbone.state_dict();
        Assert.All(state, kv => Assert.True(torch.isfinite(kv.Value).all().item<bool>(), kv.Key));
        foreach (var key in new[] { "pos_embed", "blocks.0.attn.qkv.weight", "blocks.11.mlp.fc2.weight" })
        {
            float std = state[key].std().item<float>();
            Assert.InRange(std, 0.019f, 0.021f);
        }

        Assert.Equal(0f, state["blocks.0.attn.qkv.bias"].abs().max().item<float>());
        using var images = torch.randn(2, 3, 224, 224);
        using var features = backbone.ForwardFeatures(images);
        Assert.True(torch.isfinite(features).all().item<bool>());
    }

    [Fact]
    public void LayerNormEpsilonIsTimms()
    {
        using var backbone = TinyModels.Backbone(depth: 1);
        var norm = backbone.named_modules().Single(m => m.name == "norm").module;
        Assert.Equal(1e-6, ((TorchSharp.Modules.LayerNorm)norm).eps, 12);
    }

    [Fact]
    public void FusedAndExplicitAttentionAgree()
    {
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images();
        using var fused = backbone.ForwardFeatures(images);
        backbone.UseFusedAttention = false;
        using var manual = backbone.ForwardFeatures(images);
        Assert.True(TinyModels.MaxAbsDifference(fused, manual) < 1e-5f);
    }

    [Fact]
    public void BFloat16OnTheCpuTakesTheExplicitPathWithAFloat32Softmax()
    {
        // libtorch's fused CPU attention is slow in bfloat16, so that case always takes the explicit path: the
        // setting cannot change the bits, and the result stays close to float32.
        using var scope = torch.NewDisposeScope();
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images();
        var reference = backbone.ForwardFeatures(images);
        backbone.to(torch.ScalarType.BFloat16);
        var input = images.to(torch.ScalarType.BFloat16);
        var fused = backbone.ForwardFeatures(input);
        backbone.UseFusedAttention = false;
        var manual = backbone.ForwardFeatures(input);
        Assert.True(TinyModels.Same(fused, manual));
        Assert.True(TinyModels.MaxAbsDifference(reference, manual.to(torch.ScalarType.Float32)) < 0.1f);
    }

    [Fact]
    public void ForwardFeaturesMatchesHandWrittenTimmForward()
    {
        using var backbone = TinyModels.Backbone(depth: 2);
        using var images = TinyModels.Images();
        using var features = backbone.ForwardFeatures(images);
        using var reference = ReferenceForward(backbone, images);
        Assert.True(TinyModels.MaxAbsDifference(features, reference) < 1e-5f);
    }

    [Fact]
    public void AverageFeaturesWithFcNormUseMeanOfPatchesThenNorm()
    {
        using var backbone = new VisionTransformer(TinyModels.Config(depth: 1) with
        {
            GlobalPooling = GlobalPooling.Average,
            UseFcNorm = true,
        });
        using var images = TinyModels.Images();
        using var features = backbone.ForwardFeatures(images);
        Assert.Equal(new long[] { 4, 32 }, features.shape);
        // fc_norm at identity init: each feature row has mean 0 and variance ~1.
        Assert.True(features.mean(new long[] { 1 }).abs().max().item<float>() < 1e-4f);
    }

    [Fact]
    public void ForwardHooksOnBlocksAndTheirAttentionFire()
    {
        // Blocks are TorchSharp modules invoked through call(), so hooks registered on blocks.i and blocks.i.attn run
        // as they do in PyTorch (for feature extraction or inspection) and can change the output.
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images();
        using var plain = backbone.ForwardFeatures(images);
        var blocks = backbone.named_children().Single(c => c.name == "blocks").module.children()
            .Cast<TransformerBlock>().ToList();
        var seen = new List<string>();
        var blockHooks = blocks.Select((block, i) => block.register_forward_hook(
            (module, x, context, method, rate, output) =>
            {
                seen.Add($"block {i} {string.Join("x", output.shape)}");
                return i == blocks.Count - 1 ? output * 0 : output;
            })).ToList();
        var attentionHook = blocks[0].Attention.register_forward_pre_hook((module, x, extra, extras) =>
        {
            seen.Add("attn 0");
            return (x, extra, extras);
        });

        using var zeroed = backbone.ForwardFeatures(images);
        Assert.Equal(new[] { "attn 0", "block 0 4x17x32", "block 1 4x17x32", "block 2 4x17x32" }, seen);
        Assert.True(TinyModels.MaxAbsDifference(plain, zeroed) > 1e-3f, "the hook's output replaced the block's");

        foreach (var hook in blockHooks)
        {
            hook.remove();
        }

        attentionHook.remove();
        using var again = backbone.ForwardFeatures(images);
        Assert.True(TinyModels.Same(plain, again));
    }

    [Fact]
    public void WrongImageShapeNamesExpectedShape()
    {
        using var backbone = TinyModels.Backbone(depth: 1);
        using var images = torch.zeros(2, 3, 20, 20);
        var error = Assert.Throws<ArgumentException>(() => backbone.ForwardFeatures(images));
        Assert.Contains("[B, 3, 16, 16]", error.Message);
        Assert.Contains("[2, 3, 20, 20]", error.Message);
    }

    [Fact]
    public void InvalidConfigNamesPropertyValueAndExpectation()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            new VisionTransformer(TinyModels.Config() with { ImageHeight = 18 }));
        Assert.Contains("ImageHeight is 18", error.Message);
        Assert.Contains("multiple of PatchSize (4)", error.Message);
    }

    /// <summary>timm's ViT forward written out with explicit tensor ops from the state dict.</summary>
    private static Tensor ReferenceForward(VisionTransformer backbone, Tensor images)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var sd = backbone.state_dict();
        var cfg = backbone.Config;
        long batch = images.shape[0];
        var x = nn.functional.conv2d(images, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"],
            strides: new long[] { cfg.PatchSize, cfg.PatchSize });
        x = x.flatten(2).transpose(1, 2);
        x = torch.cat(new[] { sd["cls_token"].expand(batch, -1, -1), x }, 1) + sd["pos_embed"];
        for (int i = 0; i < cfg.Depth; i++)
        {
            string p = $"blocks.{i}.";
            var h = nn.functional.layer_norm(x, new long[] { cfg.EmbedDim }, sd[p + "norm1.weight"],
                sd[p + "norm1.bias"], 1e-6);
            var qkv = nn.functional.linear(h, sd[p + "attn.qkv.weight"], sd[p + "attn.qkv.bias"]);
            long t = x.shape[1];
            qkv = qkv.reshape(batch, t, 3, cfg.NumHeads, cfg.HeadDim).permute(2, 0, 3, 1, 4);
            var attn = torch.matmul(qkv[0], qkv[1].transpose(-2, -1)) / Math.Sqrt(cfg.HeadDim);
            var o = torch.matmul(attn.softmax(-1), qkv[2]).transpose(1, 2).reshape(batch, t, cfg.EmbedDim);
            x = x + nn.functional.linear(o, sd[p + "attn.proj.weight"], sd[p + "attn.proj.bias"]);
            h = nn.functional.layer_norm(x, new long[] { cfg.EmbedDim }, sd[p + "norm2.weight"], sd[p + "norm2.bias"],
                1e-6);
            h = nn.functional.linear(h, sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"]);
            h = 0.5 * h * (1 + torch.special.erf(h / Math.Sqrt(2)));
            x = x + nn.functional.linear(h, sd[p + "mlp.fc2.weight"], sd[p + "mlp.fc2.bias"]);
        }

        x = nn.functional.layer_norm(x, new long[] { cfg.EmbedDim }, sd["norm.weight"], sd["norm.bias"], 1e-6);
        return x[.., 0].MoveToOuterDisposeScope();
    }
}
