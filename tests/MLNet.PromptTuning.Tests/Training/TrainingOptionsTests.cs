using MLNet.PromptTuning.Training;
using Xunit;

namespace MLNet.PromptTuning.Tests.Training;

public sealed class TrainingOptionsTests
{
    [Fact]
    public void DefaultsAreValid()
    {
        var o = new TrainingOptions();
        o.Validate();
        Assert.Equal(OptimizerKind.AdamW, o.Optimizer);
        Assert.Equal(LearningRateSchedule.Cosine, o.Schedule);
        Assert.Equal("auto", o.Device);
        Assert.Equal(0, o.GradientClipNorm);
        Assert.Null(o.LearningRate);
        Assert.Null(o.WarmupEpochs);
        Assert.Null(o.Seed);
        Assert.False(o.RandomResizedCrop || o.HorizontalFlip);
    }

    public static TheoryData<TrainingOptions, string, string> Invalid => new()
    {
        { new TrainingOptions { LearningRate = -1 }, "LearningRate", "is -1; expected [0, 100]." },
        { new TrainingOptions { LearningRate = double.NaN }, "LearningRate", "is NaN; expected [0, 100]." },
        { new TrainingOptions { MaxEpoch = 0 }, "MaxEpoch", "is 0; expected [1, 100000]." },
        { new TrainingOptions { BatchSize = 0 }, "BatchSize", "is 0; expected [1, 65536]." },
        { new TrainingOptions { InferenceBatchSize = 0 }, "InferenceBatchSize", "is 0; expected [1, 65536]." },
        { new TrainingOptions { Momentum = 1 }, "Momentum", "is 1; expected [0, 1)." },
        { new TrainingOptions { LabelSmoothing = 1 }, "LabelSmoothing", "is 1; expected [0, 1)." },
        { new TrainingOptions { MaxEpoch = 3, WarmupEpochs = 4 }, "WarmupEpochs", "is 4; expected [0, MaxEpoch = 3]." },
        { new TrainingOptions { GradientClipNorm = -0.5 }, "GradientClipNorm", "is -0.5; expected [0, 1000000]." },
        { new TrainingOptions { NumberOfThreads = 0 }, "NumberOfThreads", "is 0; expected [1, 1024]." },
        { new TrainingOptions { AdamEpsilon = 0 }, "AdamEpsilon", "is 0; expected (0, 1]." },
        { new TrainingOptions { EarlyStoppingPatience = -1 }, "EarlyStoppingPatience", "is -1; expected [0, 100000]." },
        { new TrainingOptions { Optimizer = (OptimizerKind)7 }, "Optimizer", "is 7; expected one of AdamW, Sgd." },
        { new TrainingOptions { ReleaseMemoryEveryNSteps = -1 }, "ReleaseMemoryEveryNSteps",
            "is -1; expected [0, 1000000000]." },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void InvalidValuesNameTheOptionTheValueAndTheRange(TrainingOptions options, string name, string detail)
    {
        var e = Assert.ThrowsAny<ArgumentException>(options.Validate);
        Assert.Equal(name, e.ParamName);
        Assert.StartsWith($"TrainingOptions.{name} {detail}", e.Message);
    }

    [Fact]
    public void TheTrainerOptionsShareTheEngineRangesAndTheMessageShape()
    {
        // One range per option: the ML.NET options inherit the engine's checks and only change the owner's name.
        var e = Assert.ThrowsAny<ArgumentException>(
            () => new PromptViTTrainer.Options { BackbonePath = "b", BatchSize = 70_000 }.Validate());
        Assert.Equal("BatchSize", e.ParamName);
        Assert.StartsWith("Options.BatchSize is 70000; expected [1, 65536].", e.Message);
    }

    [Fact]
    public void PerEpochScheduleNeedsWholeWarmupEpochs()
    {
        var e = Assert.ThrowsAny<ArgumentException>(
            () => new TrainingOptions { Schedule = LearningRateSchedule.CosinePerEpoch,
                WarmupEpochs = 0.5 }.Validate());
        Assert.Equal("WarmupEpochs", e.ParamName);
        Assert.Contains("CosinePerEpoch", e.Message);
    }

    [Fact]
    public void TheTrainerValidatesOnConstruction()
    {
        Assert.ThrowsAny<ArgumentException>(() => new ClassifierTrainer(new TrainingOptions { BatchSize = -3 }));
    }
}
