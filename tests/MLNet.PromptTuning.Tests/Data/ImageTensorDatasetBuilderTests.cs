using MLNet.PromptTuning.Data;
using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Tests.Data;

public sealed class ImageTensorDatasetBuilderTests
{
    [Fact]
    public void ImagesOfTheStoredSizeAreCopiedExactly()
    {
        var a = Enumerable.Range(0, 12).Select(i => (byte)(i * 20)).ToArray();
        var hwc = new byte[12];
        for (int c = 0; c < 3; c++)
        {
            for (int p = 0; p < 4; p++)
            {
                hwc[p * 3 + c] = a[c * 4 + p];
            }
        }

        using var builder = new ImageTensorDatasetBuilder(3, 3, 2, 2);
        builder.Add(a, 3, 2, 2, label: 4);
        builder.Add(hwc, 3, 2, 2, label: 1, PixelLayout.HeightWidthChannels);
        using var data = builder.Build();

        Assert.Equal(2, data.Count);
        Assert.Equal(new long[] { 4, 1 }, data.Labels.data<long>().ToArray());
        Assert.Equal(a, data.Images[0].data<byte>().ToArray());
        Assert.Equal(a, data.Images[1].data<byte>().ToArray());
    }

    [Fact]
    public void OtherSizesAndChannelsAreConvertedLikeThePreprocessor()
    {
        var big = Enumerable.Range(0, 6 * 10).Select(i => (byte)(i * 7 % 256)).ToArray();
        using var scope = torch.NewDisposeScope();
        using var builder = new ImageTensorDatasetBuilder(1, 3, 4, 5);
        builder.Add(big, 1, 6, 10, label: 0);
        using var data = builder.Build();

        using var pre = new ImagePreprocessor(new ImagePreprocessing(4, 5, 3, new[] { 0f, 0f, 0f },
            new[] { 1f, 1f, 1f }));
        var expected = pre.Process(torch.tensor(big, new long[] { 1, 1, 6, 10 }, torch.ScalarType.Byte), torch.CPU)
            .mul(255.0).round().to_type(torch.ScalarType.Byte);

        Assert.Equal(new long[] { 1, 3, 4, 5 }, data.Images.shape);
        Assert.True(data.Images.IsSameAs(expected));
    }

    [Fact]
    public void MisuseIsReported()
    {
        using var builder = new ImageTensorDatasetBuilder(1, 1, 2, 2);
        var size = Assert.Throws<ArgumentException>(() => builder.Add(new byte[3], 1, 2, 2, 0));
        var label = Assert.Throws<ArgumentException>(() => builder.Add(new byte[4], 1, 2, 2, -2));
        builder.Add(new byte[4], 1, 2, 2, 0);
        var full = Assert.Throws<InvalidOperationException>(() => builder.Add(new byte[4], 1, 2, 2, 0));
        using var data = builder.Build();
        var built = Assert.Throws<InvalidOperationException>(() => builder.Build());

        Assert.Contains("3 bytes", size.Message);
        Assert.Contains("label -2", label.Message);
        Assert.Contains("full (1 images)", full.Message);
        Assert.Contains("already called", built.Message);
    }
}
