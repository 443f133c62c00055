using MLNet.PromptTuning.Data;
using TorchSharp;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// The labelled images of an ML.NET data view, served in batches at the stored (model) size without ever holding the
/// whole set: each image is decoded, rounded to 8 bits and resized as it is read, and only the optional cache of
/// resized images (<see cref="ResizedImageCache"/>) outlives a pass. Images beyond the cache are re-read from the
/// data view every pass, a window of consecutive batches at a time (<see cref="DataViewBatchStream"/>), on worker
/// threads while the model computes. The bytes of an image do not depend on whether it came from the cache or from
/// the data view, nor on the number of worker threads, so a seeded run gives the same result either way.
/// </summary>
internal sealed class DataViewImageSource : IImageBatchSource
{
    /// <summary>Rows a window holds when the batch size is smaller: enough that a pass over a shuffled order re-opens
    /// the cursor rarely, small enough to bound memory (256 images of 224×224 RGB are 37 MiB).</summary>
    public const int DefaultWindowRows = 256;

    private readonly LabeledRows _rows;
    private readonly ImageLoadingSettings _settings;

    /// <summary>Creates a source over <paramref name="rows"/>; nothing is read yet.</summary>
    /// <param name="rows">The labelled rows to serve, in storage order.</param>
    /// <param name="settings">Stored size, pixel scale, threads and window.</param>
    /// <param name="cacheRows">How many images (the first ones in storage order) to keep once read.</param>
    public DataViewImageSource(LabeledRows rows, ImageLoadingSettings settings, int cacheRows)
    {
        _rows = rows;
        _settings = settings;
        Cache = new ResizedImageCache(Math.Min(cacheRows, rows.Positions.Length), settings.RowBytes);
        LabelUpperBound = rows.Labels.Length == 0 ? 0 : rows.Labels.Max() + 1;
    }

    /// <inheritdoc/>
    public int Count => _rows.Positions.Length;

    /// <inheritdoc/>
    public int Channels => _settings.Channels;

    /// <inheritdoc/>
    public int Height => _settings.Height;

    /// <inheritdoc/>
    public int Width => _settings.Width;

    /// <inheritdoc/>
    public int LabelUpperBound { get; }

    /// <summary>The images kept between passes.</summary>
    public ResizedImageCache Cache { get; }

    /// <summary>The most images a pass has held in batches not yet handed out (a bound of the memory used beyond the
    /// cache).</summary>
    public int PeakRowsInFlight { get; internal set; }

    internal LabeledRows Rows => _rows;

    internal ImageLoadingSettings Settings => _settings;

    /// <inheritdoc/>
    public IImageBatchStream Open(long[]? order, int batchSize, CancellationToken cancellation)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        if (order is not null && order.Length != Count)
        {
            throw new ArgumentException($"The order has {order.Length} entries; the source has {Count} images.",
                nameof(order));
        }

        return new DataViewBatchStream(this, order, batchSize, cancellation);
    }
}

/// <summary>How a <see cref="DataViewImageSource"/> reads and stores images.</summary>
/// <param name="Channels">Stored channels, 1 or 3.</param>
/// <param name="Height">Stored height.</param>
/// <param name="Width">Stored width.</param>
/// <param name="PixelValueScale">Multiplier mapping float pixel vectors to [0, 1].</param>
/// <param name="RequireStoredSize">When true (images are not resized), an image of another size is an
/// error.</param>
/// <param name="Threads">Decoding threads, at least 1.</param>
/// <param name="WindowRows">Rows read per window (rounded up to whole batches).</param>
/// <param name="CheckAlive">Called between rows on the reading thread; throws to cancel.</param>
internal sealed record ImageLoadingSettings(int Channels, int Height, int Width, float PixelValueScale,
    bool RequireStoredSize, int Threads, int WindowRows = DataViewImageSource.DefaultWindowRows,
    Action? CheckAlive = null)
{
    /// <summary>Bytes of one stored image.</summary>
    public int RowBytes => Channels * Height * Width;

    /// <summary>
    /// Decodes <paramref name="image"/> and brings it to the stored size as 8-bit pixels, written to
    /// <paramref name="destination"/>. Runs on a worker thread, in its own dispose scope.
    /// </summary>
    public void DecodeInto(CapturedImage image, Span<byte> destination)
    {
        using var scope = torch.NewDisposeScope();
        var decoded = image.Decode(); // [C, h, w], uint8 or float
        if (RequireStoredSize && (decoded.shape[1] != Height || decoded.shape[2] != Width))
        {
            throw new ArgumentException(
                $"With Options.ResizeImages = false every training image must have the same size; row " +
                $"{image.Location.Row} of image column '{image.Location.ColumnName}' is " +
                $"{decoded.shape[2]}x{decoded.shape[1]} but the first is {Width}x{Height}.",
                nameof(PromptViTTrainer.Options.ResizeImages));
        }

        var eightBit = PixelRounding.ToEightBitRange(decoded, PixelValueScale).to_type(torch.ScalarType.Byte);
        var stored = StoredImageConverter.Convert(eightBit, Channels, Height, Width).contiguous();
        stored.bytes.CopyTo(destination); // straight from the tensor: a 150 KB array per image was large-object garbage
    }
}
