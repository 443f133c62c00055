using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Prompting;

/// <summary>The generic seams of the backbone, exercised by small test-only methods.</summary>
public sealed class ExtensionPointTests
{
    [Fact]
    public void ExtraKeyValuesHiddenByNegativeInfinityBiasLeaveOutputUnchanged()
    {
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images();
        using var plain = backbone.ForwardFeatures(images);
        using var method = new LambdaMethod(backbone.Description)
        {
            BlockStarting = (layer, ctx) =>
            {
                ctx.Attention.SetExtraKeyValues(torch.randn(1, 3, 32));
                var bias = torch.zeros(1, 1, 1, ctx.Layout.Count + 3);
                bias[.., .., .., TensorIndex.Slice(ctx.Layout.Count, null)] = float.NegativeInfinity;
                ctx.Attention.AddBias(bias);
            },
        };

        using var features = Features(backbone, method, images);
        Assert.True(TinyModels.MaxAbsDifference(plain, features) < 1e-5f);
    }

    [Fact]
    public void ExtraKeyValuesChangeOutputAndAllOnesPostSoftmaxMaskEqualsFusedPath()
    {
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images();
        torch.manual_seed(3);
        using var extra = torch.randn(1, 3, 32);
        using var withExtras = new LambdaMethod(backbone.Description)
        {
            BlockStarting = (_, ctx) => ctx.Attention.SetExtraKeyValues(extra),
        };
        using var withMask = new LambdaMethod(backbone.Description)
        {
            BlockStarting = (_, ctx) =>
            {
                ctx.Attention.SetExtraKeyValues(extra);
                ctx.Attention.MultiplyPostSoftmaxMask(torch.ones(1, 1, ctx.Layout.Count, ctx.Layout.Count + 3));
            },
        };

        using var plain = backbone.ForwardFeatures(images);
        using var fused = Features(backbone, withExtras, images);
        using var explicitPath = Features(backbone, withMask, images);
        Assert.True(TinyModels.MaxAbsDifference(plain, fused) > 1e-3f);
        Assert.True(TinyModels.MaxAbsDifference(fused, explicitPath) < 1e-5f);
    }

    [Fact]
    public void PostSoftmaxMaskIsNotRenormalised()
    {
        using var backbone = TinyModels.Backbone(depth: 1);
        using var images = TinyModels.Images();
        // Halving every attention weight halves the attention branch; renormalising would undo it.
        using var halved = new LambdaMethod(backbone.Description)
        {
            BlockStarting = (_, ctx) => ctx.Attention.MultiplyPostSoftmaxMask(torch.full(1, 1, 1, 1, 0.5f)),
        };
        using var plain = backbone.ForwardFeatures(images);
        using var masked = Features(backbone, halved, images);
        Assert.True(TinyModels.MaxAbsDifference(plain, masked) > 1e-3f);
    }

    [Fact]
    public void LogitTemperatureDividesQueryKeyLogitsButNotTheBias()
    {
        // Dividing the logits q·k by τ_l equals dividing block l's query projection (weight and bias) by τ_l, which an
        // edited copy of the backbone computes without the seam. A finite bias must stay undivided.
        float[] temperatures = { 0.5f, 2.0f, 1.3f };
        using var backbone = TinyModels.Backbone();
        using var scaled = TinyModels.Backbone();
        using (torch.no_grad())
        {
            var state = scaled.state_dict();
            for (int layer = 0; layer < 3; layer++)
            {
                state[$"blocks.{layer}.attn.qkv.weight"].narrow(0, 0, 32).div_(temperatures[layer]);
                state[$"blocks.{layer}.attn.qkv.bias"].narrow(0, 0, 32).div_(temperatures[layer]);
            }
        }

        torch.manual_seed(4);
        using var bias = torch.randn(1, 1, 17, 17);
        using var images = TinyModels.Images();
        using var biasOnly = new LambdaMethod(backbone.Description)
        {
            BlockStarting = (_, ctx) => ctx.Attention.AddBias(bias),
        };
        using var tempered = new LambdaMethod(backbone.Description)
        {
            BlockStarting = (layer, ctx) =>
            {
                ctx.Attention.AddBias(bias);
                ctx.Attention.DivideLogitsBy(torch.tensor(temperatures[layer]));
            },
        };
        using var temperedExplicit = new LambdaMethod(backbone.Description)
        {
            BlockStarting = (layer, ctx) =>
            {
                ctx.Attention.AddBias(bias);
                ctx.Attention.DivideLogitsBy(torch.tensor(temperatures[layer]));
                ctx.Attention.MultiplyPostSoftmaxMask(torch.ones(1, 1, 17, 17));
            },
        };

        using var expected = Features(scaled, biasOnly, images);
        using var fused = Features(backbone, tempered, images);
        using var explicitPath = Features(backbone, temperedExplicit, images);
        using var untempered = Features(backbone, biasOnly, images);
        Assert.True(TinyModels.MaxAbsDifference(expected, fused) < 1e-5f);
        Assert.True(TinyModels.MaxAbsDifference(expected, explicitPath) < 1e-5f);
        Assert.True(TinyModels.MaxAbsDifference(untempered, fused) > 1e-3f);
    }

    [Fact]
    public void LogitTemperatureOfOneIsBitIdenticalToNoneAndPassesGradients()
    {
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images();
        using var temperature = torch.ones(3, requires_grad: true);
        using var method = new LambdaMethod(backbone.Description)
        {
            BlockStarting = (layer, ctx) => ctx.Attention.DivideLogitsBy(temperature[layer]),
        };

        using var plain = backbone.ForwardFeatures(images);
        using var features = Features(backbone, method, images);
        Assert.True(TinyModels.Same(plain, features));

        using (var scope = torch.NewDisposeScope())
        {
            var context = backbone.Run(images, method, new ForwardContext(true, 0));
            method.SelectFeatures(context).pow(2).sum().backward();
        }

        for (int layer = 0; layer < 3; layer++)
        {
            Assert.True(temperature.grad![layer].abs().item<float>() > 0, $"block {layer}'s temperature");
        }
    }

    [Fact]
    public void LogitTemperatureMustBroadcastOverKeys()
    {
        var extras = new AttentionExtras();
        var error = Assert.Throws<ArgumentException>(() => extras.DivideLogitsBy(torch.ones(1, 1, 1, 5)));
        Assert.Contains("[B, H, T, 1]", error.Message);
        Assert.Contains("[1, 1, 1, 5]", error.Message);
        extras.DivideLogitsBy(torch.full(1, 1, 4, 1, 2f));
        extras.DivideLogitsBy(torch.tensor(3f));
        Assert.Equal(6f, extras.LogitTemperature!.max().item<float>());
        Assert.False(extras.IsEmpty);
    }

    [Theory]
    [InlineData(BlockSite.BeforeAttention)]
    [InlineData(BlockSite.ParallelToAttention)]
    [InlineData(BlockSite.AfterAttention)]
    [InlineData(BlockSite.MlpInput)]
    [InlineData(BlockSite.AfterMlp)]
    public void SitesAreOfferedOnlyWhenUsedAndZeroContributionIsIdentity(BlockSite site)
    {
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images();
        var calls = new List<(int Layer, BlockSite Site)>();
        using var zero = new LambdaMethod(backbone.Description, site)
        {
            Contribute = (layer, s, residual, _) =>
            {
                calls.Add((layer, s));
                return torch.zeros_like(residual);
            },
        };
        using var one = new LambdaMethod(backbone.Description, site)
        {
            // A per-channel ramp: a constant shift would vanish in the following LayerNorm.
            Contribute = (_, _, residual, _) => torch.linspace(-1, 1, residual.shape[2]).expand_as(residual),
        };

        using var plain = backbone.ForwardFeatures(images);
        using var zeroFeatures = Features(backbone, zero, images);
        using var oneFeatures = Features(backbone, one, images);
        Assert.Equal(new[] { (0, site), (1, site), (2, site) }, calls);
        Assert.True(TinyModels.MaxAbsDifference(plain, zeroFeatures) < 1e-6f);
        Assert.True(TinyModels.MaxAbsDifference(plain, oneFeatures) > 1e-4f);
    }

    [Fact]
    public void StateAndAuxiliaryLossesSurvivePerBlockScopes()
    {
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images();
        var seen = new List<float>();
        using var method = new LambdaMethod(backbone.Description)
        {
            BlockFinished = (layer, ctx) =>
            {
                var previous = ctx.GetState("count");
                if (previous is not null)
                {
                    seen.Add(previous.item<float>());
                }

                ctx.SetState("count", (previous ?? torch.zeros(1)) + 1);
                ctx.AddAuxiliaryLoss("tokens", ctx.Tokens.pow(2).mean(), 0.5);
            },
        };

        using var scope = torch.NewDisposeScope();
        var context = backbone.Run(images, method, new ForwardContext(true, 0));
        Assert.Equal(new[] { 1f, 2f }, seen);
        Assert.Equal(3, context.AuxiliaryLosses.Count);
        Assert.All(context.AuxiliaryLosses, loss => Assert.False(loss.Value.IsInvalid));
        Assert.Equal(3f, context.GetState("count")!.item<float>());
    }

    private static Tensor Features(MLNet.PromptTuning.Backbones.VisionTransformer backbone, PromptMethod method,
        Tensor images)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var context = backbone.Run(images, method, ForwardContext.Inference);
        return method.SelectFeatures(context).MoveToOuterDisposeScope();
    }

    private sealed class LambdaMethod : PromptMethod
    {
        private readonly IReadOnlySet<BlockSite> _sites;

        public LambdaMethod(BackboneDescription backbone, params BlockSite[] sites)
            : base(new LambdaOptions(), backbone)
        {
            _sites = sites.ToHashSet();
        }

        public Action<int, PromptContext>? BlockStarting { get; init; }

        public Action<int, PromptContext>? BlockFinished { get; init; }

        public Func<int, BlockSite, Tensor, PromptContext, Tensor?>? Contribute { get; init; }

        public override IReadOnlySet<BlockSite> UsedSites => _sites;

        public override void OnBlockStarting(int layer, PromptContext context) => BlockStarting?.Invoke(layer, context);

        public override void OnBlockFinished(int layer, PromptContext context) => BlockFinished?.Invoke(layer, context);

        public override Tensor? ContributeAt(int layer, BlockSite site, Tensor residual, PromptContext context) =>
            Contribute?.Invoke(layer, site, residual, context);

        private sealed class LambdaOptions : PromptMethodOptions
        {
            public override string MethodId => "lambda";
        }
    }
}
