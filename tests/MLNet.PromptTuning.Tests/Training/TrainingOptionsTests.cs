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
        Assert.False(o.RandomResizedCrop || o.HorizontalFlip);
    }

    public static TheoryData<TrainingOptions, string, string> Invalid => new()
    {
        { new TrainingOptions { LearningRate = -1 }, "LearningRate", "[0, 10000]" },
        { new TrainingOptions { LearningRate = double.NaN }, "LearningRate", "NaN" },
        { new TrainingOptions { Epochs = 0 }, "Epochs", "got 0" },
        { new TrainingOptions { BatchSize = 0 }, "BatchSize", "[1, 65536]" },
        { new TrainingOptions { Momentum = 1 }, "Momentum", "[0, 1)" },
        { new TrainingOptions { LabelSmoothing = 1 }, "LabelSmoothing", "got 1" },
        { new TrainingOptions { Epochs = 3, WarmupEpochs = 4 }, "WarmupEpochs", "[0, 3]" },
        { new TrainingOptions { GradientClipNorm = -0.5 }, "GradientClipNorm", "got -0.5" },
        { new TrainingOptions { NumberOfThreads = 0 }, "NumberOfThreads", "[1, 1024]" },
        { new TrainingOptions { AdamEpsilon = 0 }, "AdamEpsilon", "(0, 1]" },
        { new TrainingOptions { EarlyStoppingPatience = -1 }, "EarlyStoppingPatience", "got -1" },
        { new TrainingOptions { Optimizer = (OptimizerKind)7 }, "Optimizer", "AdamW, Sgd" },
        { new TrainingOptions { ReleaseMemoryEveryNSteps = -1 }, "ReleaseMemoryEveryNSteps", "got -1" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void InvalidValuesNameTheOptionAndTheRange(TrainingOptions options, string name, string detail)
    {
        var e = Assert.ThrowsAny<ArgumentException>(options.Validate);
        Assert.Equal(name, e.ParamName);
        Assert.Contains(detail, e.Message);
    }

    [Fact]
    public void PerEpochScheduleNeedsWholeWarmupEpochs()
    {
        var e = Assert.Throws<ArgumentException>(
            () => new TrainingOptions { Schedule = LearningRateSchedule.CosinePerEpoch, WarmupEpochs = 0.5 }.Validate());
        Assert.Equal("WarmupEpochs", e.ParamName);
        Assert.Contains("CosinePerEpoch", e.Message);
    }

    [Fact]
    public void TheTrainerValidatesOnConstruction()
    {
        Assert.ThrowsAny<ArgumentException>(() => new ClassifierTrainer(new TrainingOptions { BatchSize = -3 }));
    }
}
