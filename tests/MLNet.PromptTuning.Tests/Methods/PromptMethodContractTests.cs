using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Methods;

/// <summary>The shared contract every registered method must pass (see docs/adding-a-method.md).</summary>
public sealed class PromptMethodContractTests
{
    [Fact]
    public void EveryBuiltInMethodHasAContractCase()
    {
        // Methods declared by other assemblies (the tests' own sixth method) are not the library's to cover here.
        var registry = PromptMethodRegistry.Default;
        var library = typeof(PromptViTTransformer).Assembly;
        Assert.Equal(
            registry.Ids.Where(id => registry.GetOptionsType(id).Assembly == library).OrderBy(i => i),
            MethodCases.CoveredIds.OrderBy(i => i));
    }

    [Theory]
    [MemberData(nameof(MethodCases.Names), MemberType = typeof(MethodCases))]
    public void OnlyMethodAndHeadParametersChangeAndEveryTrainableParameterGetsAGradient(string name)
    {
        using var backbone = TinyModels.Backbone();
        var backboneBefore = Snapshot(backbone.state_dict());
        using var model = new PromptedVisionTransformer(backbone, MethodCases.Create(name), 4);
        var before = Snapshot(model.state_dict());
        var trainable = model.GetParameterGroups().SelectMany(g => g.Parameters).ToList();
        Assert.NotEmpty(trainable);

        using var optimizer = torch.optim.SGD(trainable, 0.05);
        model.SetTrainingMode(true);
        using (torch.NewDisposeScope())
        {
            TrainingLoss(model, TinyModels.Images()).backward();
            foreach (var (parameterName, parameter) in model.named_parameters())
            {
                if (parameter.requires_grad)
                {
                    Assert.True(parameter.grad is not null && parameter.grad.abs().sum().item<float>() > 0,
                        $"{name}: {parameterName} got no gradient");
                }
            }

            optimizer.step();
        }

        bool trainsBackbone = model.Scope.TrainsBackbone;
        foreach (var (key, value) in model.state_dict())
        {
            bool trainableKey = key.StartsWith("prompt.") || key.StartsWith("head.")
                || (trainsBackbone && key.StartsWith("backbone."));
            Assert.True(trainableKey || TinyModels.Same(value, before[key]), $"{name}: frozen {key} changed");
        }

        // The shared backbone object itself is never modified, whatever the method.
        Assert.All(backbone.state_dict(), kv => Assert.True(TinyModels.Same(kv.Value, backboneBefore[kv.Key]), kv.Key));
    }

    [Theory]
    [MemberData(nameof(MethodCases.BatchIndependentNames), MemberType = typeof(MethodCases))]
    public void BatchOfOneScoresEqualInBatchScores(string name)
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, MethodCases.Create(name), 4);
        using var images = TinyModels.Images(batch: 3);
        using var batch = model.Predict(images);
        for (int i = 0; i < 3; i++)
        {
            using var single = model.Predict(images[TensorIndex.Slice(i, i + 1)]);
            Assert.True(TinyModels.MaxAbsDifference(single[0], batch[i]) < 1e-5f, $"{name}: row {i}");
        }
    }

    [Theory]
    [MemberData(nameof(MethodCases.Names), MemberType = typeof(MethodCases))]
    public void SeededConstructionAndTrainingAreBitIdentical(string name)
    {
        Assert.Equal(TrainBriefly(name), TrainBriefly(name));
    }

    [Theory]
    [MemberData(nameof(MethodCases.Names), MemberType = typeof(MethodCases))]
    public void BFloat16ComputeKeepsFloat32ParametersThatTrainAndStaysCloseToFloat32(string name)
    {
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images();
        using var model = new PromptedVisionTransformer(backbone, MethodCases.Create(name), 4);
        if (model.Scope.TrainsBackbone)
        {
            // Only prompts and the head keep float32 master weights; a trained bf16 backbone would lose its updates.
            Assert.Throws<NotSupportedException>(() => model.SetComputePrecision(ScalarType.BFloat16));
            return;
        }

        using var reference = model.Predict(images);
        model.SetComputePrecision(ScalarType.BFloat16);
        try
        {
            using var reduced = model.Predict(images);
            Assert.Equal(ScalarType.Float32, reduced.dtype);
            if (!MethodCases.SelectsPerTokenByTopK(name))
            {
                float difference = TinyModels.MaxAbsDifference(reference, reduced);
                float scale = reference.abs().max().item<float>();
                Assert.True(difference < 0.1f * scale,
                    $"{name}: bf16 logits differ by {difference} (largest logit {scale})");
            }

            model.SetTrainingMode(true);
            using var scope = torch.NewDisposeScope();
            TrainingLoss(model, images).backward();
            foreach (var (parameterName, parameter) in model.named_parameters().Where(p => p.parameter.requires_grad))
            {
                Assert.Equal(ScalarType.Float32, parameter.dtype);
                Assert.True(parameter.grad is not null && parameter.grad.abs().sum().item<float>() > 0,
                    $"{name}: {parameterName} got no gradient under bf16 compute");
            }
        }
        finally
        {
            model.SetComputePrecision(ScalarType.Float32);
        }
    }

    /// <summary>Cross-entropy of a training pass over four images (labels 0-3) plus the method's auxiliary
    /// losses.</summary>
    private static Tensor TrainingLoss(PromptedVisionTransformer model, Tensor images)
    {
        var output = model.Forward(images, new ForwardContext(true, 0));
        var loss = nn.functional.cross_entropy(output.Logits, torch.tensor(new long[] { 0, 1, 2, 3 }));
        foreach (var auxiliary in output.AuxiliaryLosses)
        {
            loss = loss + auxiliary.Value;
        }

        return loss;
    }

    private static Dictionary<string, Tensor> Snapshot(Dictionary<string, Tensor> state) =>
        state.ToDictionary(kv => kv.Key, kv => kv.Value.clone());

    private static string TrainBriefly(string name)
    {
        using var backbone = TinyModels.Backbone();
        torch.manual_seed(123);
        using var model = new PromptedVisionTransformer(backbone, MethodCases.Create(name), 4);
        using var optimizer = torch.optim.AdamW(model.GetParameterGroups().SelectMany(g => g.Parameters), 0.01);
        model.SetTrainingMode(true);
        for (int step = 0; step < 3; step++)
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            TrainingLoss(model, TinyModels.Images(seed: step)).backward();
            optimizer.step();
        }

        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(
            System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var (key, value) in model.state_dict().OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(key));
            hash.AppendData(value.contiguous().bytes);
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
