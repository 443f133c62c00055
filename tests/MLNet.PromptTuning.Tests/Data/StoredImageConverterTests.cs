using MLNet.PromptTuning.Data;
using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Tests.Data;

/// <summary>
/// The strip-by-strip conversion of <see cref="StoredImageConverter"/> against the whole-image float computation it
/// replaced (channel conversion and <see cref="ImagePreprocessor.Resize"/> on the full image): the bytes must be
/// identical, also for photo-sized images that take many strips and a last strip of another height.
/// </summary>
public sealed class StoredImageConverterTests
{
    [Theory]
    [InlineData(3, 2000, 3000, 3, 224, 224)] // a 6-megapixel photo: 17 strips, the last one shorter
    [InlineData(1, 2000, 3000, 3, 224, 224)] // gray photo to RGB
    [InlineData(3, 1501, 1103, 1, 224, 224)] // RGB to luma, odd sizes
    [InlineData(3, 224, 3000, 3, 224, 224)] // horizontal pass only
    [InlineData(3, 3000, 224, 3, 224, 224)] // vertical pass only, no strips
    [InlineData(3, 28, 28, 3, 224, 224)] // upscale
    [InlineData(3, 400, 900, 3, 96, 160)] // downscale to a non-square size
    [InlineData(1, 224, 224, 3, 224, 224)] // channels only
    public void ResizedBytesEqualTheWholeImageComputation(int channels, int height, int width,
        int storedChannels, int storedHeight, int storedWidth)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new torch.Generator((ulong)(height * 31 + width), torch.CPU);
        // Noise (edges everywhere, so the clamp between passes matters) over a gradient, like a photo's large areas.
        var noise = torch.randint(0, 96, new long[] { channels, height, width }, dtype: torch.ScalarType.Int32,
            generator: generator);
        var ramp = torch.tensor(Enumerable.Range(0, width).Select(x => x * 160 / width).ToArray()); // [w]
        var image = noise.add(ramp).clamp(0, 255).to_type(torch.ScalarType.Byte);

        var expected = WholeImage(image, storedChannels, storedHeight, storedWidth);
        var actual = StoredImageConverter.Convert(image, storedChannels, storedHeight, storedWidth);

        Assert.Equal(torch.ScalarType.Byte, actual.dtype);
        Assert.Equal(new long[] { storedChannels, storedHeight, storedWidth }, actual.shape);
        Assert.Equal(expected.data<byte>().ToArray(), actual.contiguous().data<byte>().ToArray());
    }

    [Fact]
    public void AnImageOfTheStoredShapeIsReturnedAsIs()
    {
        using var scope = torch.NewDisposeScope();
        var image = torch.zeros(new long[] { 3, 224, 224 }, torch.ScalarType.Byte);

        Assert.Same(image, StoredImageConverter.Convert(image, 3, 224, 224));
    }

    /// <summary>The computation before strips: the whole image as float32, converted and resized at once.</summary>
    private static torch.Tensor WholeImage(torch.Tensor image, int channels, int height, int width)
    {
        var x = ImagePreprocessor.ConvertChannels(image.unsqueeze(0).to_type(torch.ScalarType.Float32), channels);
        if (x.shape[2] != height || x.shape[3] != width)
        {
            x = ImagePreprocessor.Resize(x, height, width); // [1, C, H, W]
        }

        return x[0].to_type(torch.ScalarType.Byte).contiguous();
    }
}
