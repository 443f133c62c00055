using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Training;
using Xunit;

namespace MLNet.PromptTuning.Tests.Training;

/// <summary>Named recipes fill the settings left at their defaults and leave the ones a caller set.</summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class TrainingRecipeTests
{
    [Fact]
    public void TcpaFillsEverySettingLeftAtItsDefault()
    {
        var applied = new TrainingOptions { Recipe = "tcpa", MaxEpoch = 10 }.WithRecipeApplied();

        Assert.Null(applied.Recipe);
        Assert.Equal(OptimizerKind.AdamW, applied.Optimizer);
        Assert.Equal(0.005, applied.LearningRate);
        Assert.Equal(0.1, applied.WeightDecay);
        Assert.Equal(128, applied.BatchSize);
        Assert.Equal(2, applied.WarmupEpochs);            // 20 % of 10 epochs
        Assert.Equal(LearningRateSchedule.Cosine, applied.Schedule);
        Assert.Equal(0.1, applied.LabelSmoothing);
        Assert.Equal((0.8, 0.5), (applied.MixupAlpha, applied.MixupProbability));
        Assert.True(applied.HorizontalFlip);
        Assert.False(applied.RandomResizedCrop);
        Assert.Equal(10, applied.MaxEpoch);                // never the recipe's
    }

    [Fact]
    public void SettingsGivenAnotherValueWinAndVptScalesItsRateWithTheBatch()
    {
        var explicitOptions = new TrainingOptions
        {
            Recipe = "tcpa", LearningRate = 0.02, WeightDecay = 0.3, BatchSize = 16, WarmupEpochs = 0, MixupAlpha = 0.2,
        }.WithRecipeApplied();
        Assert.Equal((0.02, 0.3, 16, 0.0, 0.2),
            (explicitOptions.LearningRate, explicitOptions.WeightDecay, explicitOptions.BatchSize,
                explicitOptions.WarmupEpochs, explicitOptions.MixupAlpha));

        var vpt = new TrainingOptions { Recipe = "vpt", MaxEpoch = 100 }.WithRecipeApplied();
        Assert.Equal((OptimizerKind.Sgd, 128, 0.5, 10.0, LearningRateSchedule.CosinePerEpoch),
            (vpt.Optimizer, vpt.BatchSize, vpt.LearningRate, vpt.WarmupEpochs, vpt.Schedule));
        var vpt64 = new TrainingOptions { Recipe = "VPT", BatchSize = 64 }.WithRecipeApplied();
        Assert.Equal(0.25, vpt64.LearningRate);            // base 1.0 per 256 images, at batch 64 (VPT's demo)
        Assert.Equal(1, vpt64.WarmupEpochs);               // 10 % of 10 epochs

        var sep = new TrainingOptions { Recipe = "sep", MaxEpoch = 10 }.WithRecipeApplied();
        Assert.Equal((1.0, 1e-3, true), (sep.WarmupEpochs!.Value, sep.AdamEpsilon, sep.RandomResizedCrop));
        Assert.Same(TrainingRecipes.Gapt, TrainingRecipes.Get("lspt"));
        Assert.Equal(new[] { "cvpt", "gapt", "lspt", "sep", "tcpa", "vpt" }, TrainingRecipes.Names);
    }

    [Fact]
    public void AnUnknownRecipeNamesTheOptionAndListsTheRecipes()
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => new TrainingOptions { Recipe = "adam" }.Validate());
        Assert.Equal(nameof(TrainingOptions.Recipe), error.ParamName);
        Assert.Contains(
            "TrainingOptions.Recipe is adam; expected null or a recipe name: cvpt, gapt, lspt, sep, tcpa, vpt",
            error.Message);
        var trainer = new PromptViTTrainer.Options { BackbonePath = "b", Recipe = "nope" };
        Assert.Contains("Options.Recipe is nope", Assert.ThrowsAny<ArgumentException>(trainer.Validate).Message);
    }

    [Fact]
    public void TheTrainerLogsTheRecipeAndTrainsWithItsMixup()
    {
        var logger = new ListLogger();
        using var train = ToyData.Separable(12, seed: 1, size: 6);
        using var model = new ToyClassifier(1, 4, 2);
        var trainer = new ClassifierTrainer(new TrainingOptions
        {
            Recipe = "tcpa", MaxEpoch = 2, BatchSize = 4, Device = "cpu", Seed = 3, LogEveryNSteps = 0,
        }, logger);
        var result = trainer.Train(model, train);

        Assert.Equal(2, result.History.Count);
        Assert.Equal(0.8, trainer.Options.MixupAlpha);
        Assert.Contains(logger.Lines, l => l.Message.StartsWith("Recipe 'tcpa' (zhoujiahuan1991/ICML2025-TCPA"));
        Assert.Contains(logger.Lines, l => l.Message.Contains("mixup α 0.8 on 50% of batches, label smoothing 0.1"));
    }

    [Fact]
    public void TheMlNetTrainerTakesTheRecipesHeadUnlessOneIsChosen()
    {
        Assert.Equal(HeadInitialization.VptKaimingFanOut,
            new PromptViTTrainer.Options { Recipe = "gapt" }.GetHeadInitialization());
        Assert.Equal(HeadInitialization.SmallTruncatedNormal,
            new PromptViTTrainer.Options { Recipe = "tcpa" }.GetHeadInitialization());
        Assert.Equal(HeadInitialization.SmallTruncatedNormal, new PromptViTTrainer.Options().GetHeadInitialization());
    }
}
