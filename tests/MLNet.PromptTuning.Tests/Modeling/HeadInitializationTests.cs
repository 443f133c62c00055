using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Modeling;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Modeling;

/// <summary>The two head initialisations: timm's small truncated normal (the default) and the VPT codebase's.</summary>
public sealed class HeadInitializationTests
{
    // A wide head gives enough weights (D = 32 features × C classes) for the standard deviation to be pinned down.
    private const int Classes = 200;

    [Fact]
    public void DefaultHeadIsTruncatedNormalWithStd002AndZeroBias()
    {
        var (weight, bias) = Head(HeadInitialization.SmallTruncatedNormal, useDefault: true);
        Assert.InRange(weight.std().item<float>(), 0.019f, 0.021f);
        Assert.InRange(weight.mean().item<float>(), -0.002f, 0.002f);
        Assert.True(weight.abs().max().item<float>() <= 2f);
        Assert.Equal(0f, bias.abs().max().item<float>());
    }

    [Fact]
    public void VptHeadIsKaimingFanOutWithThePriorBias()
    {
        var (weight, bias) = Head(HeadInitialization.VptKaimingFanOut);
        float expectedStd = MathF.Sqrt(2f / Classes);                                       // fan-out = C
        Assert.InRange(weight.std().item<float>(), 0.95f * expectedStd, 1.05f * expectedStd);
        Assert.True(torch.allclose(bias, torch.full(Classes, -4.59511985013459f), rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void StartingLossOfTheDefaultHeadIsNearLnC()
    {
        // The reason for the default: small starting logits, so training starts at about ln(C) rather than far above.
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, new VptOptions { PromptLength = 2 }, 5);
        using var logits = model.Predict(TinyModels.Images());
        using var loss = nn.functional.cross_entropy(logits, torch.tensor(new long[] { 0, 1, 2, 3 }));
        Assert.InRange(loss.item<float>(), MathF.Log(5) - 0.2f, MathF.Log(5) + 0.2f);
    }

    [Fact]
    public void UndefinedInitializationIsRejectedByName()
    {
        using var backbone = TinyModels.Backbone();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new PromptedVisionTransformer(
            backbone, new VptOptions(), 3, headInitialization: (HeadInitialization)7));
        Assert.Equal("headInitialization", error.ParamName);
        Assert.Contains("SmallTruncatedNormal", error.Message);
    }

    private static (Tensor Weight, Tensor Bias) Head(HeadInitialization initialization, bool useDefault = false)
    {
        using var backbone = TinyModels.Backbone();
        torch.manual_seed(3);
        using var model = useDefault
            ? new PromptedVisionTransformer(backbone, new VptOptions { PromptLength = 2 }, Classes)
            : new PromptedVisionTransformer(backbone, new VptOptions { PromptLength = 2 }, Classes,
                headInitialization: initialization);
        var state = model.state_dict();
        return (state["head.weight"].clone(), state["head.bias"].clone());
    }
}
