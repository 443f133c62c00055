using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Methods.FullFineTune;
using MLNet.PromptTuning.Methods.LinearProbe;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Tests.Prompting;
using MLNet.PromptTuning.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Methods;

/// <summary>The invariants of methods/vpt.md §7 and the trainable-parameter formulas.</summary>
public sealed class VptTests
{
    [Fact]
    public void InitBoundIsExactlyOneSixteenthForVitBase16()
    {
        var description = new BackboneDescription(VitVariants.Base(), _ => throw new InvalidOperationException());
        Assert.Equal(0.0625, VptMethod.InitBound(description), 15);
    }

    [Fact]
    public void EveryPromptEntryLiesWithinTheInitBound()
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, new VptOptions { PromptLength = 50 }, 5);
        double bound = VptMethod.InitBound(backbone.Description);
        foreach (var (name, parameter) in model.Method.named_parameters())
        {
            Assert.True(parameter.abs().max().item<float>() <= bound, name);
            Assert.True(parameter.abs().max().item<float>() > bound * 0.9, name);
        }
    }

    [Theory]
    [InlineData(VptDepth.Shallow)]
    [InlineData(VptDepth.Deep)]
    public void PermutingPromptsOfOneLayerLeavesLogitsUnchanged(VptDepth depth)
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, new VptOptions { Depth = depth, PromptLength = 4 },
            5);
        using var images = TinyModels.Images();
        using var before = model.Predict(images);
        var key = depth == VptDepth.Shallow ? "prompt.vpt.prompt_embeddings" : "prompt.vpt.deep_prompt_embeddings";
        using (torch.no_grad())
        {
            var prompts = model.state_dict()[key];
            var permuted = depth == VptDepth.Shallow
                ? prompts.index_select(1, torch.tensor(new long[] { 3, 1, 0, 2 }))
                : prompts[1].index_select(0, torch.tensor(new long[] { 2, 3, 1, 0 }));
            (depth == VptDepth.Shallow ? prompts : prompts[1]).copy_(permuted.clone());
        }

        using var after = model.Predict(images);
        Assert.True(TinyModels.MaxAbsDifference(before, after) < 1e-5f);
    }

    [Fact]
    public void DeepWithRecordedShallowOutputsReproducesShallow()
    {
        using var backbone = TinyModels.Backbone();
        using var shallow = new PromptedVisionTransformer(backbone,
            new VptOptions { Depth = VptDepth.Shallow, PromptLength = 3 }, 5);
        using var image = TinyModels.Images(batch: 1);
        var recorder = new ProbeMethod(shallow.Method, backbone.Description) { Segment = VptMethod.Segment };
        var shallowLogits = LogitsWith(shallow, recorder, image);

        using var deep = new PromptedVisionTransformer(backbone,
            new VptOptions { Depth = VptDepth.Deep, PromptLength = 3 }, 5);
        using (torch.no_grad())
        {
            var sd = deep.state_dict();
            sd["prompt.vpt.prompt_embeddings"].copy_(shallow.state_dict()["prompt.vpt.prompt_embeddings"]);
            sd["head.weight"].copy_(shallow.state_dict()["head.weight"]);
            sd["head.bias"].copy_(shallow.state_dict()["head.bias"]);
            for (int l = 1; l < backbone.Config.Depth; l++)
            {
                sd["prompt.vpt.deep_prompt_embeddings"][l - 1].copy_(recorder.Recorded[l - 1][0]);
            }
        }

        using var deepLogits = deep.Predict(image);
        Assert.True(TinyModels.MaxAbsDifference(shallowLogits, deepLogits) < 1e-5f);
    }

    [Fact]
    public void DeepDiscardsPromptOutputsBetweenBlocksButShallowKeepsThem()
    {
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images();
        foreach (var depth in new[] { VptDepth.Deep, VptDepth.Shallow })
        {
            using var model = new PromptedVisionTransformer(backbone,
                new VptOptions { Depth = depth, PromptLength = 3 }, 5);
            using var clean = model.Predict(images);
            var noisy = new ProbeMethod(model.Method, backbone.Description)
            {
                Segment = VptMethod.Segment,
                PerturbAfterLayer = layer => layer < backbone.Config.Depth - 1,
            };
            using var perturbed = LogitsWith(model, noisy, images);
            float difference = TinyModels.MaxAbsDifference(clean, perturbed);
            if (depth == VptDepth.Deep)
            {
                Assert.True(difference < 1e-5f, $"deep: {difference}");
            }
            else
            {
                Assert.True(difference > 1e-3f, $"shallow: {difference}");
            }
        }
    }

    [Fact]
    public void LinearProbeFeaturesAreTheFrozenBackbonesFeatures()
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, new LinearProbeOptions(), 5);
        using var images = TinyModels.Images();
        using var features = backbone.ForwardFeatures(images);
        using var expected = nn.functional.linear(features, model.state_dict()["head.weight"],
            model.state_dict()["head.bias"]);
        using var logits = model.Predict(images);
        Assert.True(TinyModels.MaxAbsDifference(expected, logits) < 1e-5f);
    }

    [Fact]
    public void TrainModeEqualsEvalModeWithoutPromptDropout()
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, new VptOptions { Dropout = 0 }, 5);
        using var images = TinyModels.Images();
        using var eval = model.Predict(images);
        model.SetTrainingMode(true);
        using var scope = torch.NewDisposeScope();
        var train = model.Forward(images, new ForwardContext(true, 0)).Logits;
        Assert.True(TinyModels.MaxAbsDifference(eval, train) < 1e-6f);
    }

    [Fact]
    public void PromptDropoutActsOnlyInTraining()
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, new VptOptions { Dropout = 0.5 }, 5);
        using var images = TinyModels.Images();
        using var eval = model.Predict(images);
        using var scope = torch.NewDisposeScope();
        var train = model.Forward(images, new ForwardContext(true, 0)).Logits;
        Assert.True(TinyModels.MaxAbsDifference(eval, train) > 1e-4f);
    }

    [Theory]
    [InlineData(VptDepth.Shallow)]
    [InlineData(VptDepth.Deep)]
    public void OneOptimizerStepChangesOnlyPromptsAndHeadAndEveryTrainableParameterGetsAGradient(VptDepth depth)
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, new VptOptions { Depth = depth }, 5);
        var before = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var trainable = model.GetParameterGroups().SelectMany(g => g.Parameters).ToList();
        using var optimizer = torch.optim.AdamW(trainable, lr: 0.01);
        using var images = TinyModels.Images();
        using var labels = torch.tensor(new long[] { 0, 1, 2, 3 });

        model.SetTrainingMode(true);
        using (var scope = torch.NewDisposeScope())
        {
            optimizer.zero_grad();
            var output = model.Forward(images, new ForwardContext(true, 0));
            nn.functional.cross_entropy(output.Logits, labels).backward();
            Assert.All(trainable, p => Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0));
            optimizer.step();
        }

        foreach (var (name, tensor) in model.state_dict())
        {
            bool changed = !TinyModels.Same(tensor, before[name]);
            Assert.Equal(name.StartsWith("prompt.") || name.StartsWith("head."), changed);
        }

        Assert.All(backbone.parameters(), p => Assert.Null(p.grad));
    }

    [Fact]
    public void BatchOfOneScoresEqualInBatchScores()
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, new VptOptions(), 5);
        using var images = TinyModels.Images();
        using var batch = model.Predict(images);
        for (int i = 0; i < 4; i++)
        {
            using var single = model.Predict(images[TensorIndex.Slice(i, i + 1)]);
            Assert.True(TinyModels.MaxAbsDifference(single[0], batch[i]) < 1e-5f);
        }
    }

    [Fact]
    public void TrainableParameterCountsForVitBase16MatchSpecFormulas()
    {
        using var backbone = new VisionTransformer(VitVariants.Base());
        const int classes = 100;
        long head = (768 + 1) * classes;
        Assert.Equal(169_060L, Count(new VptOptions { PromptLength = 10, Depth = VptDepth.Deep }));
        Assert.Equal(9216L * 50 + head, Count(new VptOptions { PromptLength = 50, Depth = VptDepth.Deep }));
        Assert.Equal(768L * 10 + head, Count(new VptOptions { PromptLength = 10, Depth = VptDepth.Shallow }));
        Assert.Equal(head, Count(new LinearProbeOptions()));

        long Count(PromptMethodOptions options)
        {
            using var model = new PromptedVisionTransformer(backbone, options, classes);
            return model.CountTrainableParameters();
        }
    }

    [Fact]
    public void FullFineTuningTrainsAPrivateCopyOfASharedBackbone()
    {
        using var backbone = TinyModels.Backbone();
        var original = backbone.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        using var model = new PromptedVisionTransformer(backbone, new FullFineTuneOptions(), 5);
        Assert.NotSame(backbone, model.Backbone);
        long expected = model.Backbone.parameters().Sum(p => p.numel()) + 33 * 5;
        Assert.Equal(expected, model.CountTrainableParameters());

        using var optimizer = torch.optim.SGD(model.GetParameterGroups().SelectMany(g => g.Parameters), 0.1);
        using var images = TinyModels.Images();
        using (torch.NewDisposeScope())
        {
            var output = model.Forward(images, new ForwardContext(true, 0));
            nn.functional.cross_entropy(output.Logits, torch.tensor(new long[] { 0, 1, 2, 3 })).backward();
            optimizer.step();
        }

        Assert.False(TinyModels.Same(model.Backbone.state_dict()["blocks.0.attn.qkv.weight"],
            original["blocks.0.attn.qkv.weight"]));
        Assert.All(backbone.state_dict(), kv => Assert.True(TinyModels.Same(kv.Value, original[kv.Key]), kv.Key));
    }

    [Fact]
    public void InvalidOptionsNameTheOptionAndRange()
    {
        using var backbone = TinyModels.Backbone();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new PromptedVisionTransformer(backbone, new VptOptions { PromptLength = 0 }, 5));
        Assert.Contains("VptOptions.PromptLength is 0", error.Message);
        Assert.Contains("[1, 500]", error.Message);
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
}
