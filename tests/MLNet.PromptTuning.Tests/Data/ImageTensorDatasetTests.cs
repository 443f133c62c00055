using MLNet.PromptTuning.Data;
using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Tests.Data;

public sealed class ImageTensorDatasetTests
{
    [Fact]
    public void BatchesCoverEveryImageOnceIncludingTheLastPartialBatch()
    {
        using var data = Indexed(10);
        using var shuffler = new EpochShuffler(3);
        using var order = shuffler.NextPermutation(data.Count);

        Assert.Equal(3, data.BatchCount(4));
        var seen = new List<long>();
        var sizes = new List<long>();
        for (int b = 0; b < data.BatchCount(4); b++)
        {
            using var scope = torch.NewDisposeScope();
            var (images, labels) = data.GetBatch(b, 4, order);
            sizes.Add(labels.shape[0]);
            Assert.Equal(labels.shape[0], images.shape[0]);
            var ids = labels.data<long>().ToArray();
            seen.AddRange(ids);
            // Each image's pixels hold its own index, so images and labels must stay paired.
            Assert.Equal(ids, images[.., 0, 0, 0].to_type(torch.ScalarType.Int64).data<long>().ToArray());
        }

        Assert.Equal(new long[] { 4, 4, 2 }, sizes);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), seen.OrderBy(i => i));
        Assert.NotEqual(Enumerable.Range(0, 10).Select(i => (long)i), seen); // shuffled
    }

    [Fact]
    public void UnshuffledBatchesAreInStorageOrder()
    {
        using var data = Indexed(5);
        using var scope = torch.NewDisposeScope();

        var (_, last) = data.GetBatch(2, 2);

        Assert.Equal(new long[] { 4 }, last.data<long>().ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => data.GetBatch(3, 2));
    }

    [Fact]
    public void ShufflingIsSeededAndIgnoresOtherRandomDraws()
    {
        using var a = new EpochShuffler(17);
        using var b = new EpochShuffler(17);
        using var c = new EpochShuffler(18);
        using var scope = torch.NewDisposeScope();

        var first = a.NextPermutation(50).data<long>().ToArray();
        torch.manual_seed(99);
        torch.rand(1000);
        var same = b.NextPermutation(50).data<long>().ToArray();
        var other = c.NextPermutation(50).data<long>().ToArray();
        var state = a.GetState();
        var second = a.NextPermutation(50).data<long>().ToArray();
        a.SetState(state);
        var replay = a.NextPermutation(50).data<long>().ToArray();

        Assert.Equal(first, same);
        Assert.NotEqual(first, other);
        Assert.NotEqual(first, second);
        Assert.Equal(second, replay);
    }

    [Fact]
    public void InterleavedPixelsGiveTheSameTensorAsPlanarPixels()
    {
        const int n = 2, c = 3, h = 2, w = 3;
        var chw = Enumerable.Range(0, n * c * h * w).Select(i => (byte)i).ToArray();
        var hwc = new byte[chw.Length];
        for (int i = 0; i < n; i++)
        {
            for (int ch = 0; ch < c; ch++)
            {
                for (int y = 0; y < h; y++)
                {
                    for (int x = 0; x < w; x++)
                    {
                        hwc[((i * h + y) * w + x) * c + ch] = chw[((i * c + ch) * h + y) * w + x];
                    }
                }
            }
        }

        using var planar = ImageTensorDataset.FromPixels(chw, new long[] { 0, 1 }, c, h, w);
        using var interleaved = ImageTensorDataset.FromPixels(hwc, new long[] { 0, 1 }, c, h, w,
            PixelLayout.HeightWidthChannels);

        Assert.True(planar.Images.IsSameAs(interleaved.Images));
        Assert.Equal((2, 3, 2, 3), (planar.Count, planar.Channels, planar.Height, planar.Width));
        Assert.Equal(2, planar.LabelUpperBound);
    }

    [Fact]
    public void RejectsMalformedInput()
    {
        var size = Assert.Throws<ArgumentException>(() =>
            ImageTensorDataset.FromPixels(new byte[10], new long[] { 0 }, 1, 3, 3));
        var channels = Assert.Throws<ArgumentException>(() =>
            ImageTensorDataset.FromPixels(new byte[8], new long[] { 0 }, 2, 2, 2));
        var negative = Assert.Throws<ArgumentException>(() =>
            ImageTensorDataset.FromPixels(new byte[4], new long[] { -1 }, 1, 2, 2));
        var dtype = Assert.Throws<ArgumentException>(
            () => new ImageTensorDataset(torch.zeros(1, 1, 2, 2), torch.zeros(1, dtype: torch.ScalarType.Int64)));

        Assert.Contains("10 bytes", size.Message);
        Assert.Contains("9", size.Message);
        Assert.Contains("got 2", channels.Message);
        Assert.Contains("-1", negative.Message);
        Assert.Contains("uint8", dtype.Message);
    }

    private static ImageTensorDataset Indexed(int count)
    {
        var pixels = new byte[count * 4];
        for (int i = 0; i < count; i++)
        {
            Array.Fill(pixels, (byte)i, i * 4, 4);
        }

        return ImageTensorDataset.FromPixels(pixels, Enumerable.Range(0, count).Select(i => (long)i).ToArray(), 1, 2,
            2);
    }
}
