using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Methods.Cvpt;
using MLNet.PromptTuning.Methods.LinearProbe;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Methods;

/// <summary>The checks of methods/cvpt.md §7 and the trainable-parameter formulas of §3.</summary>
public sealed class CvptTests
{
    private const string PromptKey = "prompt.cvpt.Prompt_Tokens";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CrossAttentionStartsBitEqualToTheFrozenSelfAttention(bool trainCrossAttention)
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(
            backbone, new CvptOptions { TrainCrossAttention = trainCrossAttention }, 5);
        var method = (CvptMethod)model.Method;
        using var scope = torch.NewDisposeScope();
        for (int layer = 0; layer < backbone.Config.Depth; layer++)
        {
            var self = backbone.Description.GetAttentionWeights(layer);
            var cross = method.CrossAttentionWeights(layer);
            Assert.True(TinyModels.Same(self.QkvWeight, cross.QkvWeight), $"qkv weight, layer {layer}");
            Assert.True(TinyModels.Same(self.QkvBias!, cross.QkvBias!), $"qkv bias, layer {layer}");
            Assert.True(TinyModels.Same(self.ProjWeight, cross.ProjWeight), $"proj weight, layer {layer}");
            Assert.True(TinyModels.Same(self.ProjBias, cross.ProjBias), $"proj bias, layer {layer}");
        }
    }

    [Fact]
    public void CrossAttentionMatchesAHandComputationPerHead()
    {
        using var backbone = TinyModels.Backbone();
        using var scope = torch.NewDisposeScope();
        var weights = backbone.Description.GetAttentionWeights(1);
        torch.manual_seed(5);
        var tokens = torch.randn(2, 5, 32);                                                   // [B, T, D]
        var prompts = torch.randn(1, 3, 32);                                                  // [1, P, D]

        var actual = CvptCrossAttention.Forward(tokens, prompts, weights, numHeads: 2);

        const int width = 32, heads = 2, headDim = 16;
        var headOutputs = new List<Tensor>();
        for (int h = 0; h < heads; h++)
        {
            // Queries from the q rows, keys from the k rows (offset D), values from the v rows (offset 2D).
            Tensor Rows(int block) => weights.QkvWeight.narrow(0, block * width + h * headDim, headDim);
            Tensor Bias(int block) => weights.QkvBias!.narrow(0, block * width + h * headDim, headDim);
            var q = tokens.matmul(Rows(0).t()) + Bias(0);                                      // [B, T, hd]
            var k = prompts.matmul(Rows(1).t()) + Bias(1);                                     // [1, P, hd]
            var v = prompts.matmul(Rows(2).t()) + Bias(2);
            var attention = (q.matmul(k.transpose(1, 2)) / Math.Sqrt(headDim)).softmax(-1);     // [B, T, P]
            headOutputs.Add(attention.matmul(v));                                              // [B, T, hd]
        }

        var expected = torch.cat(headOutputs, 2).matmul(weights.ProjWeight.t()) + weights.ProjBias;
        Assert.True(TinyModels.MaxAbsDifference(expected, actual) < 1e-5f);
    }

    [Theory]
    [InlineData(BlockSite.BeforeAttention)]
    [InlineData(BlockSite.ParallelToAttention)]
    [InlineData(BlockSite.AfterAttention)]
    [InlineData(BlockSite.MlpInput)]
    [InlineData(BlockSite.AfterMlp)]
    public void ZeroPromptsAddExactlyWoBvPlusBoAtTheChosenSite(BlockSite site)
    {
        // §7.4: with zero prompts every key and value is the bias, attention is uniform, and block l's cross-attention
        // adds the constant c_l = Wo·bv + bo to every token, wherever it sits.
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images();
        using var model = new PromptedVisionTransformer(
            backbone, new CvptOptions { Site = site, PromptInit = CvptPromptInit.Zeros }, 5);
        Assert.Equal(new[] { site }, model.Method.UsedSites);
        using var cvpt = model.Predict(images);

        var constants = Enumerable.Range(0, backbone.Config.Depth).Select(layer =>
        {
            var w = backbone.Description.GetAttentionWeights(layer);
            return (w.ProjWeight.matmul(w.QkvBias!.narrow(0, 64, 32)) + w.ProjBias).DetachFromDisposeScope(); // [D]
        }).ToArray();
        using var reference = new ConstantAtSite(backbone.Description, site, constants);
        using var expected = LogitsWith(model, reference, images);
        Assert.True(TinyModels.MaxAbsDifference(expected, cvpt) < 1e-5f, site.ToString());

        // §7.2: CVPT at initialisation is not the frozen ViT, even with zero prompts.
        using var linear = new LinearProbeMethod(new LinearProbeOptions(), backbone.Description);
        using var probe = LogitsWith(model, linear, images);
        Assert.True(TinyModels.MaxAbsDifference(probe, cvpt) > 1e-3f, site.ToString());
    }

    [Theory]
    [InlineData(BlockSite.BeforeAttention)]
    [InlineData(BlockSite.ParallelToAttention)]
    [InlineData(BlockSite.AfterAttention)]
    [InlineData(BlockSite.MlpInput)]
    [InlineData(BlockSite.AfterMlp)]
    public void EverySiteTrainsThePromptsAndLeavesTheBackboneWithoutGradients(BlockSite site)
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, new CvptOptions { Site = site, PromptLength = 3 }, 4);
        model.SetTrainingMode(true);
        using var scope = torch.NewDisposeScope();
        var output = model.Forward(TinyModels.Images(), new ForwardContext(true, 0));
        nn.functional.cross_entropy(output.Logits, torch.tensor(new long[] { 0, 1, 2, 3 })).backward();
        var grad = model.state_dict()[PromptKey].grad;
        Assert.NotNull(grad);
        for (int layer = 0; layer < backbone.Config.Depth; layer++)
        {
            Assert.True(grad[layer].abs().sum().item<float>() > 0, $"{site}: layer {layer} prompts got no gradient");
        }

        Assert.All(backbone.parameters(), p => Assert.Null(p.grad));
    }

    [Fact]
    public void IdenticalPromptsCollapseToASinglePrompt()
    {
        // §7.3: P copies of p give uniform attention, so the model equals one with P = 1 and prompt p.
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images();
        using var one = new PromptedVisionTransformer(backbone, new CvptOptions { PromptLength = 1 }, 5);
        using var four = new PromptedVisionTransformer(backbone, new CvptOptions { PromptLength = 4 }, 5);
        CopyHead(one, four);
        using (torch.no_grad())
        {
            four.state_dict()[PromptKey].copy_(one.state_dict()[PromptKey].expand(-1, 4, -1));
        }

        using var expected = one.Predict(images);
        using var actual = four.Predict(images);
        Assert.True(TinyModels.MaxAbsDifference(expected, actual) < 1e-5f);
    }

    [Fact]
    public void PermutingThePromptsOfALayerLeavesLogitsUnchanged()
    {
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images();
        using var model = new PromptedVisionTransformer(backbone, new CvptOptions { PromptLength = 4 }, 5);
        using var before = model.Predict(images);
        using (torch.no_grad())
        {
            var layer = model.state_dict()[PromptKey][1];
            layer.copy_(layer.index_select(0, torch.tensor(new long[] { 2, 0, 3, 1 })).clone());
        }

        using var after = model.Predict(images);
        Assert.True(TinyModels.MaxAbsDifference(before, after) < 1e-5f);
    }

    [Fact]
    public void ZeroedCrossAttentionOutputProjectionGivesTheFrozenVit()
    {
        // §7.5 (a test hook, not the method's initialisation): with Wo = 0 and bo = 0 the branch adds nothing.
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images();
        using var model = new PromptedVisionTransformer(backbone, new CvptOptions { TrainCrossAttention = true }, 5);
        using (torch.no_grad())
        {
            model.state_dict()["prompt.cvpt.cross_attn_proj_weight"].zero_();
            model.state_dict()["prompt.cvpt.cross_attn_proj_bias"].zero_();
        }

        using var linear = new LinearProbeMethod(new LinearProbeOptions(), backbone.Description);
        using var probe = LogitsWith(model, linear, images);
        using var cvpt = model.Predict(images);
        Assert.True(TinyModels.MaxAbsDifference(probe, cvpt) < 1e-5f);
    }

    [Fact]
    public void PromptsLieWithinTheXavierBound()
    {
        var vitBase = new BackboneDescription(VitVariants.Base(), _ => throw new InvalidOperationException());
        Assert.Equal(0.018844, CvptMethod.InitBound(10, vitBase), 6);
        Assert.Equal(0.024515, CvptMethod.InitBound(1, vitBase), 6);
        Assert.Equal(0.006071, CvptMethod.InitBound(200, vitBase), 6);

        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, new CvptOptions { PromptLength = 50 }, 5);
        double bound = CvptMethod.InitBound(50, backbone.Description);
        float max = model.state_dict()[PromptKey].abs().max().item<float>();
        Assert.True(max <= bound && max > 0.9 * bound, $"{max} vs {bound}");

        using var zeros = new PromptedVisionTransformer(
            backbone, new CvptOptions { PromptInit = CvptPromptInit.Zeros }, 5);
        Assert.Equal(0f, zeros.state_dict()[PromptKey].abs().max().item<float>());
    }

    [Fact]
    public void StochasticDepthDefaultsToTheOfficialRateAndActsOnlyInTraining()
    {
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images();
        using var defaults = new PromptedVisionTransformer(backbone, new CvptOptions(), 5);
        Assert.Equal(0.1, defaults.Scope.BackboneStochasticDepthRate);

        foreach (double rate in new[] { 0.0, 0.5 })
        {
            using var model = new PromptedVisionTransformer(
                backbone, new CvptOptions { Dropout = 0, BackboneStochasticDepthRate = rate }, 5);
            using var eval = model.Predict(images);
            model.SetTrainingMode(true);
            torch.manual_seed(1);
            using var scope = torch.NewDisposeScope();
            var train = model.Forward(images, new ForwardContext(true, 0)).Logits;
            float difference = TinyModels.MaxAbsDifference(eval, train);
            Assert.True(rate == 0 ? difference < 1e-6f : difference > 1e-4f, $"rate {rate}: {difference}");
        }
    }

    [Fact]
    public void TrainableParameterCountsForVitBase16MatchSpecFormulas()
    {
        using var backbone = new VisionTransformer(VitVariants.Base());
        const int classes = 100;
        Assert.Equal(169_060L, Count(new CvptOptions { PromptLength = 10 }));
        Assert.Equal(86_116L, Count(new CvptOptions { PromptLength = 1 }));
        Assert.Equal(1_920_100L, Count(new CvptOptions { PromptLength = 200 }));
        Assert.Equal(169_060L + 28_348_416L, Count(new CvptOptions { PromptLength = 10, TrainCrossAttention = true }));

        long Count(PromptMethodOptions options)
        {
            using var model = new PromptedVisionTransformer(backbone, options, classes);
            return model.CountTrainableParameters();
        }
    }

    [Fact]
    public void FrozenCrossAttentionKeepsTheModelStateToPromptsAndHead()
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, new CvptOptions(), 5);
        Assert.Equal(
            new[] { "head.bias", "head.weight", PromptKey },
            model.state_dict().Keys.OrderBy(k => k, StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(0, "PromptLength is 0", "[1, 500]")]
    [InlineData(1, "Dropout is 1", "[0, 1)")]
    [InlineData(2, "BackboneStochasticDepthRate is -0.1", "[0, 1)")]
    public void InvalidOptionsNameTheOptionAndRange(int which, string named, string range)
    {
        using var backbone = TinyModels.Backbone();
        var options = which switch
        {
            0 => new CvptOptions { PromptLength = 0 },
            1 => new CvptOptions { Dropout = 1 },
            _ => new CvptOptions { BackboneStochasticDepthRate = -0.1 },
        };
        var error = Assert.Throws<ArgumentOutOfRangeException>(
            () => new PromptedVisionTransformer(backbone, options, 5));
        Assert.Contains("CvptOptions." + named, error.Message);
        Assert.Contains(range, error.Message);
    }

    private static void CopyHead(PromptedVisionTransformer from, PromptedVisionTransformer to)
    {
        using var noGrad = torch.no_grad();
        to.state_dict()["head.weight"].copy_(from.state_dict()["head.weight"]);
        to.state_dict()["head.bias"].copy_(from.state_dict()["head.bias"]);
    }

    private static Tensor LogitsWith(PromptedVisionTransformer model, PromptMethod method, Tensor images)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var context = model.Backbone.Run(images, method, ForwardContext.Inference);
        var features = method.SelectFeatures(context);
        var sd = model.state_dict();
        return nn.functional.linear(features, sd["head.weight"], sd["head.bias"]).MoveToOuterDisposeScope();
    }

    /// <summary>Adds a fixed vector per block at one site: the reference for zero-prompt CVPT.</summary>
    private sealed class ConstantAtSite : PromptMethod
    {
        private readonly Tensor[] _constants;
        private readonly IReadOnlySet<BlockSite> _sites;

        public ConstantAtSite(BackboneDescription backbone, BlockSite site, Tensor[] constants)
            : base(new ConstantOptions(), backbone)
        {
            _constants = constants;
            _sites = new HashSet<BlockSite> { site };
        }

        public override IReadOnlySet<BlockSite> UsedSites => _sites;

        public override Tensor? ContributeAt(int layer, BlockSite site, Tensor residual, PromptContext context) =>
            _constants[layer].expand_as(residual);

        private sealed class ConstantOptions : PromptMethodOptions
        {
            public override string MethodId => "constant";
        }
    }
}
