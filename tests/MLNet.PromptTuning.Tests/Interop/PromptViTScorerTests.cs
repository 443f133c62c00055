using MLNet.PromptTuning.Interop;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Tests.TestSupport;
using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Tests.Interop;

/// <summary>
/// Scoring brings each decoded image to the model's size as soon as it is read (so a batch of photos is never held at
/// source size); the logits must not change.
/// </summary>
public sealed class PromptViTScorerTests
{
    [Theory]
    [InlineData(3, 3, 61, 47)] // larger than the model, both axes resized
    [InlineData(3, 1, 16, 33)] // colour to gray, one axis resized
    [InlineData(1, 3, 9, 16)] // gray to colour, upscaled
    [InlineData(1, 1, 16, 16)] // already the model's size: passes through
    public void PreparingAnImageOnReadGivesTheSameLogits(int imageChannels, int modelChannels, int height, int width)
    {
        using var threads = new TorchThreadScope();
        using var scope = torch.NewDisposeScope();
        using var backbone = TinyModels.Backbone(channels: modelChannels);
        using var model = new PromptedVisionTransformer(backbone, new VptOptions { PromptLength = 2 }, 3);
        using var scorer = new PromptViTScorer(model, torch.CPU, pixelValueScale: 1f);
        var generator = new torch.Generator(7, torch.CPU);
        var images = Enumerable.Range(0, 2).Select(_ => torch.randint(0, 256,
            new long[] { imageChannels, height, width }, torch.ScalarType.Byte, generator: generator)).ToArray();

        using var noGrad = torch.no_grad();
        var direct = scorer.ScoreBatch(images);
        var prepared = images.Select(((IImageBatchScorer)scorer).Prepare).ToArray();
        Assert.All(prepared, p => Assert.Equal(new long[] { modelChannels, 16, 16 }, p.shape));
        Assert.True(TinyModels.Same(direct, scorer.ScoreBatch(prepared)));
    }
}
