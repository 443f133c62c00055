using Microsoft.ML;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Interop;
using MLNet.PromptTuning.Tests.TestSupport;
using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Tests.Interop;

/// <summary>
/// The streaming image source of Fit: batches equal to the in-memory dataset's for the same order whatever the cache,
/// window and number of decoding threads; memory bounded by two windows; errors and cancellation on the caller's
/// thread.
/// </summary>
public sealed class DataViewImageSourceTests
{
    private const int Stored = 8; // images are 10x9 and stored at 8x8, so every read resizes

    private sealed class BytesRow
    {
        public byte[] Image { get; set; } = Array.Empty<byte>();

        public string Label { get; set; } = string.Empty;
    }

    private sealed class PathRow
    {
        public string Path { get; set; } = string.Empty;

        public string Label { get; set; } = string.Empty;
    }

    private sealed class PathOnly
    {
        public string Path { get; set; } = string.Empty;
    }

    private sealed class LoadedImage
    {
        public byte[] Image { get; set; } = Array.Empty<byte>();
    }

    [Fact]
    public void BatchesEqualTheInMemoryDatasetForAnyCacheWindowAndThreadCount()
    {
        using var threads = new TorchThreadScope();
        using TestImageSet images = TestImageSet.Create(23, width: 10, height: 9);
        var rows = Scan(images, _ => false);
        using ImageTensorDataset reference = InMemory(images);
        long[] order = Permutation(images.Rows.Count, seed: 5);

        foreach (var (cacheRows, decoders, window) in new[] { (0, 1, 4), (23, 3, 4), (10, 2, 8), (0, 3, 256) })
        {
            var source = new DataViewImageSource(rows, Settings(decoders, window), cacheRows);
            for (int pass = 0; pass < 2; pass++) // the second pass serves cached rows from memory
            {
                Assert.Equal(Batches(reference, order, 5), Batches(source, order, 5));
            }

            Assert.Equal(cacheRows, source.Cache.Count);
            Assert.Equal(Batches(reference, null, 4), Batches(source, null, 4));
        }
    }

    [Fact]
    public void BeyondTheCacheAtMostTwoWindowsOfImagesAreHeld()
    {
        using var threads = new TorchThreadScope();
        using TestImageSet images = TestImageSet.Create(40, width: 10, height: 9);
        var rows = Scan(images, _ => false);
        long[] order = Permutation(40, seed: 9);

        var uncached = new DataViewImageSource(rows, Settings(decoders: 2, windowRows: 8), cacheRows: 0);
        Batches(uncached, order, 4);
        Batches(uncached, order, 4);
        Assert.InRange(uncached.PeakRowsInFlight, 8, 16);
        Assert.Equal(0, uncached.Cache.Count);

        var capped = new DataViewImageSource(rows, Settings(decoders: 2, windowRows: 8), cacheRows: 10);
        Batches(capped, order, 4);
        Assert.Equal(10, capped.Cache.Count);
        Assert.Equal(10, capped.Cache.Capacity);
        Assert.InRange(capped.PeakRowsInFlight, 8, 16);
    }

    [Fact]
    public void APassComputesOnlyTheImagesItServes()
    {
        // A shuffled pass sweeps the data view once per window; upstream transforms must run only for the rows the
        // window decodes, not for every row the cursor passes (ML.NET's consolidating cursor would run them all).
        using var threads = new TorchThreadScope();
        using TestImageSet images = TestImageSet.Create(40, width: 10, height: 9);
        int fileReads = 0;
        var ml = new MLContext(seed: 1);
        IDataView raw = ml.Data.LoadFromEnumerable(images.Rows.Select((r, i) => new PathRow
        {
            Path = Path.Combine(images.Folder, r.Path),
            Label = $"class{i % 3}",
        }).ToList());
        IDataView data = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.CustomMapping<PathOnly, LoadedImage>((input, output) =>
            {
                Interlocked.Increment(ref fileReads);
                output.Image = File.ReadAllBytes(input.Path);
            }, contractName: null))
            .Fit(raw).Transform(raw);
        var rows = LabeledRows.Scan(data, "Image", "Label", new ImageInputSpec());
        Assert.Equal(0, fileReads);

        var source = new DataViewImageSource(rows, Settings(decoders: 2, windowRows: 8), cacheRows: 0);
        using ImageTensorDataset reference = InMemory(images);
        long[] order = Permutation(40, seed: 3);
        Assert.Equal(Batches(reference, order, 4), Batches(source, order, 4));
        Assert.Equal(40, fileReads);
    }

    [Fact]
    public void ADecodingErrorReachesTheReaderWithTheRowNamed()
    {
        using var threads = new TorchThreadScope();
        using TestImageSet images = TestImageSet.Create(12, width: 10, height: 9);
        var rows = Scan(images, i => i == 7);
        var source = new DataViewImageSource(rows, Settings(decoders: 3, windowRows: 4), cacheRows: 0);
        using var batches = source.Open(null, 4, CancellationToken.None);
        using var scope = torch.NewDisposeScope();
        batches.Next();
        var error = Assert.Throws<InvalidDataException>(() => batches.Next());
        Assert.StartsWith("Row 7 of image column 'Image' could not be decoded as an image", error.Message);
    }

    [Fact]
    public void CancellingAPassStopsTheReaderBetweenBatches()
    {
        using var threads = new TorchThreadScope();
        using TestImageSet images = TestImageSet.Create(20, width: 10, height: 9);
        var rows = Scan(images, _ => false);
        var source = new DataViewImageSource(rows, Settings(decoders: 2, windowRows: 4), cacheRows: 0);
        using var cancel = new CancellationTokenSource();
        var batches = source.Open(Permutation(20, seed: 1), 4, cancel.Token);
        using (var scope = torch.NewDisposeScope())
        {
            batches.Next();
        }

        cancel.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => batches.Next());
        batches.Dispose(); // joins the reader and decoders
        Assert.Throws<ObjectDisposedException>(() => batches.Next());
    }

    private static ImageLoadingSettings Settings(int decoders, int windowRows) =>
        new(3, Stored, Stored, 1f / 255f, RequireStoredSize: false, decoders, windowRows);

    /// <summary>Encoded PNG bytes of the test images (or garbage where <paramref name="broken"/> says) with key
    /// labels.</summary>
    private static LabeledRows Scan(TestImageSet images, Func<int, bool> broken)
    {
        var ml = new MLContext(seed: 1);
        var rows = images.Rows.Select((r, i) => new BytesRow
        {
            Image = broken(i) ? new byte[] { 1, 2, 3 } : File.ReadAllBytes(Path.Combine(images.Folder, r.Path)),
            Label = $"class{i % 3}", // first seen in class order, so key k - 1 = i % 3
        }).ToList();
        IDataView raw = ml.Data.LoadFromEnumerable(rows);
        IDataView data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
        return LabeledRows.Scan(data, "Image", "Label", new ImageInputSpec());
    }

    /// <summary>The same images the way the in-memory path stores them: decoded, then resized by the
    /// builder.</summary>
    private static ImageTensorDataset InMemory(TestImageSet images)
    {
        using var builder = new ImageTensorDatasetBuilder(images.Rows.Count, 3, Stored, Stored);
        for (int i = 0; i < images.Rows.Count; i++)
        {
            builder.Add(images.PlanarRgb(i), 3, images.Height, images.Width, i % 3);
        }

        return builder.Build();
    }

    private static long[] Permutation(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i => (long)i).OrderBy(_ => random.Next()).ToArray();
    }

    /// <summary>Each batch as text: hex pixels, then the labels.</summary>
    private static List<string> Batches(IImageBatchSource source, long[]? order, int batchSize)
    {
        var result = new List<string>();
        using var batches = source.Open(order, batchSize, CancellationToken.None);
        for (int start = 0; start < source.Count; start += batchSize)
        {
            using var scope = torch.NewDisposeScope();
            var (pixels, labels) = batches.Next();
            result.Add(Convert.ToHexString(pixels.data<byte>().ToArray()) + " " +
                string.Join(",", labels.data<long>().ToArray()));
        }

        Assert.Throws<InvalidOperationException>(() => batches.Next());
        return result;
    }
}
