using System.Runtime.Intrinsics.X86;
using Microsoft.ML;
using MLNet.PromptTuning.Tests.Integration;
using MLNet.PromptTuning.Training;
using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Tests.Training;

/// <summary>
/// <see cref="TrainingPrecision.Auto"/>, PromptViT's default: bfloat16 only where the hardware computes it natively
/// and the backbone is frozen; resolved once per Fit and recorded in the model.
/// </summary>
public sealed class PrecisionSelectionTests
{
    [Theory]
    [InlineData(TrainingPrecision.Float32, false)]
    [InlineData(TrainingPrecision.BFloat16, false)]
    [InlineData(TrainingPrecision.Float32, true)]
    public void ExplicitPrecisionsAreKept(TrainingPrecision requested, bool trainsBackbone)
    {
        Assert.Equal(requested, PrecisionSelection.Resolve(requested, torch.CPU, trainsBackbone));
        Assert.Equal(requested, PrecisionSelection.Resolve(requested, new torch.Device("meta"), trainsBackbone));
    }

    [Fact]
    public void AutoOnTheCpuFollowsItsBFloat16Instructions()
    {
        bool expected = CpuFlagsFromTheOperatingSystem() is { } flags
            ? Avx512F.IsSupported && (flags.Contains("avx512_bf16") || flags.Contains("amx_bf16"))
            : PrecisionSelection.CpuHasBFloat16; // no /proc/cpuinfo: nothing independent to compare with
        Assert.Equal(expected, PrecisionSelection.CpuHasBFloat16);
        Assert.Equal(expected ? TrainingPrecision.BFloat16 : TrainingPrecision.Float32,
            PrecisionSelection.Resolve(TrainingPrecision.Auto, torch.CPU, trainsBackbone: false));
    }

    [Fact]
    public void AutoIsFloat32WhenTheBackboneTrainsOrTheDeviceIsUnknown()
    {
        Assert.Equal(TrainingPrecision.Float32,
            PrecisionSelection.Resolve(TrainingPrecision.Auto, torch.CPU, trainsBackbone: true));
        Assert.Equal(TrainingPrecision.Float32,
            PrecisionSelection.Resolve(TrainingPrecision.Auto, new torch.Device("meta"), trainsBackbone: false));
    }

    [Theory]
    [InlineData("vpt")]
    [InlineData("full")]
    public void FitResolvesAutoAndTheModelComputesInTheChosenPrecision(string method)
    {
        using var threads = new TestSupport.TorchThreadScope();
        using var fixture = PromptViTFixture.Create(6);
        var ml = new MLContext(seed: 1);
        var data = PromptViTTrainerTests.Prepare(ml, fixture, fixture.LoadRows(ml));
        var options = fixture.Options(method, epochs: 1);
        Assert.Equal(TrainingPrecision.Auto, options.Precision);
        Assert.Equal(TrainingPrecision.Auto, new PromptViTTrainer.Options().Precision);

        using var model = ml.MulticlassClassification.Trainers.PromptViT(options).Fit(data);
        bool bfloat16 = method != "full" && PrecisionSelection.CpuHasBFloat16;
        Assert.Equal(bfloat16 ? torch.ScalarType.BFloat16 : torch.ScalarType.Float32, model.Model.ComputePrecision);
        Assert.Equal(TrainingPrecision.Auto, options.Precision); // the caller's options are not changed
    }

    private static string[]? CpuFlagsFromTheOperatingSystem() =>
        File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))
                ?.Split(':')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            : null;
}
