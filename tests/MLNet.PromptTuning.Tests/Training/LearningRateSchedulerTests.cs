using MLNet.PromptTuning.Training;
using Xunit;

namespace MLNet.PromptTuning.Tests.Training;

public sealed class LearningRateSchedulerTests
{
    [Fact]
    public void PerStepWarmupThenCosineToZero()
    {
        // 4 epochs x 5 steps, 1 warmup epoch: W = 5, T = 20.
        var s = new LearningRateScheduler(LearningRateSchedule.Cosine, 1, 4, 5);

        Assert.Equal(5, s.WarmupSteps);
        Assert.Equal(0.2, s.Factor(0, 0), 12);
        Assert.Equal(0.6, s.Factor(0, 2), 12);
        Assert.Equal(1.0, s.Factor(0, 4), 12);
        Assert.Equal(1.0, s.Factor(1, 0), 12); // cosine starts at its peak
        Assert.Equal(0.75, s.Factor(2, 0), 12); // progress 5/15: ½(1 + cos(π/3))
        Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * 14 / 15)), s.Factor(3, 4), 12);
        Assert.True(s.Factor(3, 4) > 0);
    }

    [Fact]
    public void FractionalWarmupRoundsToWholeSteps()
    {
        var s = new LearningRateScheduler(LearningRateSchedule.Cosine, 0.5, 2, 5); // 2.5 -> 3 steps

        Assert.Equal(3, s.WarmupSteps);
        Assert.Equal(1.0 / 3, s.Factor(0, 0), 12);
        Assert.Equal(1.0, s.Factor(0, 3), 12);
    }

    [Fact]
    public void NoWarmupStartsAtThePeak()
    {
        var s = new LearningRateScheduler(LearningRateSchedule.Cosine, 0, 2, 2);

        Assert.Equal(1.0, s.Factor(0, 0), 12);
        Assert.Equal(0.5, s.Factor(1, 0), 12);
    }

    [Fact]
    public void PerEpochFollowsTheOfficialVptLambda()
    {
        // 6 epochs, 2 warmup epochs; the rate is constant within an epoch.
        var s = new LearningRateScheduler(LearningRateSchedule.CosinePerEpoch, 2, 6, 10);

        Assert.Equal(0.0, s.Factor(0, 0), 12); // epoch 0 runs at lr 0, as in the VPT code
        Assert.Equal(0.0, s.Factor(0, 9), 12);
        Assert.Equal(0.5, s.Factor(1, 3), 12);
        Assert.Equal(1.0, s.Factor(2, 0), 12);
        Assert.Equal(0.5, s.Factor(4, 7), 12); // ½(1 + cos(π·2/4))
        Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * 3 / 4)), s.Factor(5, 0), 12);
    }

    [Fact]
    public void ConstantKeepsThePeakAfterWarmup()
    {
        var s = new LearningRateScheduler(LearningRateSchedule.Constant, 1, 3, 4);

        Assert.Equal(0.25, s.Factor(0, 0), 12);
        Assert.Equal(1.0, s.Factor(2, 3), 12);
    }
}
