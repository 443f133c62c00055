using System.Text.Json;
using Microsoft.ML;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Methods.Cvpt;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Tests.Interop;
using MLNet.PromptTuning.Tests.TestSupport;
using Xunit;

namespace MLNet.PromptTuning.Tests.Integration;

/// <summary>The one options surface: methods by id with their own options, per-method defaults, the JSON
/// form.</summary>
public sealed class PromptViTOptionsTests
{
    [Fact]
    public void LeavingTheRateUnsetTrainsAtTheMethodsOwnRateInBothCatalogOverloads()
    {
        using var fixture = PromptViTFixture.Create(6);
        var ml = new MLContext(seed: 1);
        var log = new LogMessages(ml);
        var data = PromptViTTrainerTests.Prepare(ml, fixture, fixture.LoadRows(ml));

        var options = fixture.Options(method: "linear", epochs: 1);
        options.LearningRate = null;
        options.WarmupEpochs = null;
        using (ml.MulticlassClassification.Trainers.PromptViT(options).Fit(data))
        {
            // The linear probe's own rate and warm-up.
            Assert.Contains(log.All, m => m.Contains("lr 0.15 (warm-up 1 epochs)", StringComparison.Ordinal));
        }

        log.Clear();
        using (ml.MulticlassClassification.Trainers.PromptViT(
            backbonePath: fixture.BackbonePath, method: "full", maxEpochs: 1, batchSize: 4).Fit(data))
        {
            // Full fine-tuning's own rate, and its 2-epoch warm-up capped at the single epoch.
            Assert.Contains(log.All, m => m.Contains("lr 0.0015 (warm-up 1 epochs)", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void MethodIdAndMethodOptionsMustAgreeAndUnknownIdsListTheRegisteredOnes()
    {
        var mismatch = new PromptViTTrainer.Options { BackbonePath = "b", Method = "cvpt",
            MethodOptions = new VptOptions() };
        var error = Assert.ThrowsAny<ArgumentException>(mismatch.Validate);
        Assert.Equal("Method", error.ParamName);
        Assert.StartsWith("Options.Method is 'cvpt'; expected 'vpt' (the method of Options.MethodOptions, VptOptions)",
            error.Message);

        var unknown = new PromptViTTrainer.Options { BackbonePath = "b", Method = "lora" };
        error = Assert.ThrowsAny<ArgumentException>(unknown.Validate);
        Assert.StartsWith(
            "Options.Method is 'lora'; expected a registered method id: vpt, tcpa, cvpt, lspt, sep, linear, full",
            error.Message);

        // MethodOptions alone names the method; Method alone takes the method's defaults.
        Assert.IsType<CvptOptions>(
            new PromptViTTrainer.Options { MethodOptions = new CvptOptions() }.GetMethodOptions());
        Assert.Equal(10, Assert.IsType<VptOptions>(new PromptViTTrainer.Options().GetMethodOptions()).PromptLength);
    }

    [Fact]
    public void TheJsonFormSetsAMethodsOptionsById()
    {
        // What an AutoML trial hands the factory lambda: Microsoft.ML.SearchSpace turns the sampled parameters into
        // JSON and deserialises it as Options, so a nested search space of CvptOptions arrives as an object.
        const string json = """
            { "Method": "cvpt", "MethodOptions": { "PromptLength": 7, "Dropout": 0.25 },
              "MaxEpoch": 3, "LearningRate": 0.02 }
            """;
        var options = JsonSerializer.Deserialize<PromptViTTrainer.Options>(json)!;
        var cvpt = Assert.IsType<CvptOptions>(options.MethodOptions);
        Assert.Equal((7, 0.25), (cvpt.PromptLength, cvpt.Dropout));
        Assert.Equal((3, 0.02), (options.MaxEpoch, options.LearningRate!.Value));

        var written = JsonSerializer.Serialize(options with { BackbonePath = "b" });
        var back = JsonSerializer.Deserialize<PromptViTTrainer.Options>(written)!;
        Assert.Equal(7, Assert.IsType<CvptOptions>(back.MethodOptions).PromptLength);
        Assert.Equal("b", back.BackbonePath);

        // Without Method the object is read as the default method's options.
        var vpt = JsonSerializer.Deserialize<PromptViTTrainer.Options>(
            """{ "MethodOptions": { "PromptLength": 3 } }""")!;
        Assert.Equal(3, Assert.IsType<VptOptions>(vpt.MethodOptions).PromptLength);
    }

    [Fact]
    public void FullFineTuningIsAScopeWhoseModelsAndAdaptersCarryTheirTrainedBackbone()
    {
        using var fixture = PromptViTFixture.Create(6);
        var ml = new MLContext(seed: 1);
        var data = PromptViTTrainerTests.Prepare(ml, fixture, fixture.LoadRows(ml));
        using var model = ml.MulticlassClassification.Trainers.PromptViT(fixture.Options("full", epochs: 1)).Fit(data);
        Assert.True(model.Model.Scope.TrainsBackbone);
        Assert.True(model.Model.OwnsBackbone);
        var expected = ScoreReading.ReadVectors(model.Transform(data), "Score").Select(ScoreReading.Bits).ToArray();

        string adapter = Path.Combine(fixture.Images.Folder, "full-adapter");
        model.SaveAdapter(adapter);
        using (var weights = SafeTensorsReader.Open(Path.Combine(adapter, "adapter_model.safetensors")))
        {
            Assert.Contains(weights.Tensors, t => t.Name.StartsWith("backbone.", StringComparison.Ordinal));
        }

        // The adapter carries the trained backbone, so it loads onto any backbone of the same architecture.
        using var other = TinyModels.Backbone(seed: 99);
        using var loaded = PromptViTTransformer.LoadAdapter(new MLContext(seed: 2), adapter, other);
        Assert.Equal(expected, ScoreReading.ReadVectors(loaded.Transform(data), "Score").Select(ScoreReading.Bits));
    }
}
