using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Tests.TestSupport;
using Xunit;

namespace MLNet.PromptTuning.Tests.Integration;

/// <summary>The grayscale warning appears when colour inputs are really reduced to luma, and only then.</summary>
public sealed class ChannelConversionLogTests
{
    private const string GrayscaleWarning = "converted to grayscale";

    private sealed class FileRow
    {
        public string Path { get; set; } = string.Empty;

        public string Label { get; set; } = string.Empty;
    }

    [Fact]
    public void AllGrayPngsOnAOneChannelBackboneLogNoConversion()
    {
        var messages = TrainOnPngs(colorEvery: 0);
        Assert.Contains(messages, m => m.Contains("PromptViT: method 'vpt'"));
        Assert.DoesNotContain(messages, m => m.Contains(GrayscaleWarning));
    }

    [Fact]
    public void ColorPngsOnAOneChannelBackboneLogHowManyWereConverted()
    {
        var messages = TrainOnPngs(colorEvery: 3);
        Assert.Contains(messages, m => m.Contains($"2 of 6 training images are in color and were {GrayscaleWarning}"));
    }

    /// <summary>Six 8x8 PNGs of two classes, gray (R = G = B) except every <paramref name="colorEvery"/>-th one;
    /// trains one epoch on a 1-channel backbone and returns the log.</summary>
    private static IReadOnlyList<string> TrainOnPngs(int colorEvery)
    {
        using var fixture = PromptViTFixture.Create(imageCount: 1, channels: 1);
        var rows = new List<FileRow>();
        for (int i = 0; i < 6; i++)
        {
            bool color = colorEvery > 0 && i % colorEvery == 0;
            var rgba = new byte[8 * 8 * 4];
            for (int p = 0; p < 64; p++)
            {
                byte gray = (byte)((i % 2 == 0 ? 40 : 170) + (p * 7 + i * 3) % 60);
                rgba[p * 4] = color ? (byte)(255 - gray) : gray;
                rgba[p * 4 + 1] = gray;
                rgba[p * 4 + 2] = gray;
                rgba[p * 4 + 3] = 255;
            }

            string name = $"gray{i}.png";
            using (var image = MLImage.CreateFromPixels(8, 8, MLPixelFormat.Rgba32, rgba))
            {
                image.Save(Path.Combine(fixture.Images.Folder, name));
            }

            rows.Add(new FileRow { Path = name, Label = i % 2 == 0 ? "dark" : "bright" });
        }

        var ml = new MLContext(seed: 1);
        var log = new LogMessages(ml);
        var input = ml.Data.LoadFromEnumerable(rows);
        var data = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadRawImageBytes("Image", fixture.Images.Folder, "Path"))
            .Fit(input).Transform(input);
        using var model = ml.MulticlassClassification.Trainers.PromptViT(fixture.Options(epochs: 1)).Fit(data);
        return log.All;
    }
}
