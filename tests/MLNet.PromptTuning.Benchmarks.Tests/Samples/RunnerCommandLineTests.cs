using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Samples.VtabRunner;
using MLNet.PromptTuning.Training;
using Xunit;

namespace MLNet.PromptTuning.Benchmarks.Tests.Samples;

/// <summary>VtabRunner's command line: its documented defaults, list options, and errors naming the option.</summary>
public sealed class RunnerCommandLineTests
{
    private static readonly string[] Required = { "--vtab", "root", "--backbone", "b.safetensors", "--out", "run" };

    [Fact]
    public void Only_the_required_options_give_the_papers_protocol()
    {
        var o = RunnerOptions.Parse(Required, PromptMethodRegistry.Default);

        Assert.Equal(("vtab", "root", "b.safetensors", "run"),
            (o.Benchmark, o.Root, o.BackbonePath, o.OutputDirectory));
        Assert.Equal(new[] { "linear", "vpt", "tcpa", "full" }, o.Methods.Select(m => m.Id));
        Assert.Equal(new[] { 0.0005, 0.001, 0.005 }, o.Methods[3].LearningRates);
        Assert.Equal(new[] { 1.0, 5.0, 25.0 }, o.LearningRates);
        Assert.Equal(new[] { 0.0, 0.001 }, o.WeightDecays);
        Assert.Equal(RunnerOptions.PaperSeeds, o.Seeds);
        Assert.Equal((100, 10.0, 64, 256), (o.Epochs, o.WarmupEpochs, o.BatchSize, o.EvaluationBatchSize));
        Assert.Equal((OptimizerKind.Sgd, LearningRateSchedule.CosinePerEpoch, HeadInitialization.VptKaimingFanOut),
            (o.Optimizer, o.Schedule, o.HeadInitialization));
        Assert.Equal(("imagenet", true, "auto", TrainingPrecision.Float32),
            (o.Normalization, o.ScaleLearningRateByBatch, o.Device, o.Precision));
        Assert.Equal((16, 224, 0, 0), (o.PatchSize, o.ImageSize, o.MaxTrain, o.MaxTest));
        Assert.Null(o.Threads);
        Assert.Null(o.Variant);
        Assert.Empty(o.Tasks);
        Assert.False(o.Restart || o.UnitCheckpoints);
    }

    [Fact]
    public void Lists_choices_and_switches_are_read()
    {
        var o = RunnerOptions.Parse(Required.Concat(new[]
        {
            "--tasks", "dtd, eurosat", "--lr", "0.5,2.5e-1", "--wd", "0", "--seeds", "7,8", "--optimizer", "AdamW",
            "--schedule", "constant", "--head-init", "small", "--threads", "3", "--precision", "bf16", "--restart",
            "--unit-checkpoints", "--lr-scaling", "none",
        }), PromptMethodRegistry.Default);

        Assert.Equal(new[] { "dtd", "eurosat" }, o.Tasks);
        Assert.Equal(new[] { 0.5, 0.25 }, o.LearningRates);
        Assert.Equal(new[] { 7, 8 }, o.Seeds);
        Assert.Equal((OptimizerKind.AdamW, LearningRateSchedule.Constant, HeadInitialization.SmallTruncatedNormal),
            (o.Optimizer, o.Schedule, o.HeadInitialization));
        Assert.Equal((3, TrainingPrecision.BFloat16, false), (o.Threads, o.Precision, o.ScaleLearningRateByBatch));
        Assert.True(o.Restart && o.UnitCheckpoints);
    }

    [Theory]
    [InlineData("--seeds", "1,x", "--seeds: 'x' is not an integer")]
    [InlineData("--lr", "", "--lr needs at least one value")]
    [InlineData("--warmup", "ten", "--warmup: 'ten' is not a number")]
    [InlineData("--optimizer", "adam", "--optimizer: 'adam' is not one of sgd, adamw")]
    [InlineData("--batch", "0", "--batch: 0 is below the minimum")]
    public void A_bad_value_is_rejected_naming_the_option_and_the_value(string option, string value, string message)
    {
        var e = Assert.Throws<ArgumentException>(() =>
            RunnerOptions.Parse(Required.Concat(new[] { option, value }), PromptMethodRegistry.Default));

        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Exactly_one_benchmark_root_and_the_required_options_are_demanded()
    {
        var registry = PromptMethodRegistry.Default;
        Assert.Contains("exactly one of --vtab", Assert.Throws<ArgumentException>(() => RunnerOptions.Parse(
            Required.Concat(new[] { "--fgvc", "other" }), registry)).Message, StringComparison.Ordinal);
        Assert.Contains("'--out' is required", Assert.Throws<ArgumentException>(() => RunnerOptions.Parse(
            Required.Take(4), registry)).Message, StringComparison.Ordinal);
        Assert.Contains("lists a method twice", Assert.Throws<ArgumentException>(() => RunnerOptions.Parse(
            Required.Concat(new[] { "--methods", "vpt,vpt" }), registry)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_lists_every_option_with_its_default() =>
        HelpText.AssertEveryOptionShowsItsDefault(RunnerCommandLine.CreateCommand());
}
