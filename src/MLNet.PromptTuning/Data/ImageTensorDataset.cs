using TorchSharp;

namespace MLNet.PromptTuning.Data;

/// <summary>
/// Decoded images held once in memory as one uint8 tensor [N, C, H, W] on the CPU, with int64 labels [N].
/// All images share one size; <see cref="ImagePreprocessor"/> resizes each batch to the model's input size, so the
/// cache stays as compact as the source images. Batches are views or index-selections of this tensor.
/// </summary>
public sealed class ImageTensorDataset : IDisposable, IImageBatchSource
{
    private bool _disposed;

    /// <summary>
    /// Wraps existing tensors and takes ownership of them (they are disposed with the dataset). Tensors on another
    /// device are copied to the CPU.
    /// </summary>
    /// <param name="images">uint8 images [N, C, H, W] with C = 1 or 3.</param>
    /// <param name="labels">int64 class indices [N], each non-negative.</param>
    /// <exception cref="ArgumentException">A shape, dtype or label is invalid.</exception>
    public ImageTensorDataset(torch.Tensor images, torch.Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (images.dtype != torch.ScalarType.Byte || images.dim() != 4)
        {
            throw new ArgumentException(
                $"Images must be a uint8 tensor [N, C, H, W]; got {images.dtype} with shape " +
                $"[{string.Join(", ", images.shape)}].",
                nameof(images));
        }

        if (images.shape[1] != 1 && images.shape[1] != 3)
        {
            throw new ArgumentException($"Images must have 1 or 3 channels; got {images.shape[1]}.", nameof(images));
        }

        if (images.shape[2] <= 0 || images.shape[3] <= 0)
        {
            throw new ArgumentException($"Image size must be positive; got {images.shape[2]}x{images.shape[3]}.",
                nameof(images));
        }

        if (labels.dtype != torch.ScalarType.Int64 || labels.dim() != 1 || labels.shape[0] != images.shape[0])
        {
            throw new ArgumentException(
                $"Labels must be an int64 tensor [N] with N = {images.shape[0]}; got {labels.dtype} with shape " +
                $"[{string.Join(", ", labels.shape)}].",
                nameof(labels));
        }

        Images = ToCpuContiguous(images).DetachFromDisposeScope();
        Labels = ToCpuContiguous(labels).DetachFromDisposeScope();
        var smallest = MinLabel();
        if (smallest < 0)
        {
            Dispose();
            throw new ArgumentException($"Labels must be non-negative class indices; found {smallest}.",
                nameof(labels));
        }
    }

    /// <summary>The image cache, uint8 [N, C, H, W] on the CPU. Owned by the dataset.</summary>
    public torch.Tensor Images { get; }

    /// <summary>The labels, int64 [N] on the CPU. Owned by the dataset.</summary>
    public torch.Tensor Labels { get; }

    /// <summary>Number of images N.</summary>
    public int Count => (int)Images.shape[0];

    /// <summary>Channels of the stored images (1 or 3).</summary>
    public int Channels => (int)Images.shape[1];

    /// <summary>Height of the stored images in pixels.</summary>
    public int Height => (int)Images.shape[2];

    /// <summary>Width of the stored images in pixels.</summary>
    public int Width => (int)Images.shape[3];

    /// <summary>Largest label plus one (0 for an empty dataset).</summary>
    public int LabelUpperBound
    {
        get
        {
            if (Count == 0)
            {
                return 0;
            }

            using var max = Labels.max();
            return (int)max.item<long>() + 1;
        }
    }

    /// <summary>
    /// Builds a dataset from a flat pixel buffer holding <paramref name="labels"/>.Length images of one size, one
    /// after another.
    /// </summary>
    /// <param name="pixels">8-bit pixel values, <c>N·C·H·W</c> bytes.</param>
    /// <param name="labels">Class index of each image.</param>
    /// <param name="channels">1 (grayscale) or 3 (RGB).</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="layout">Byte order within one image.</param>
    /// <exception cref="ArgumentException">The buffer length does not match, or an argument is out of
    /// range.</exception>
    public static ImageTensorDataset FromPixels(
        byte[] pixels, long[] labels, int channels, int height, int width,
        PixelLayout layout = PixelLayout.ChannelsHeightWidth)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        if (channels != 1 && channels != 3)
        {
            throw new ArgumentException($"Channels must be 1 or 3; got {channels}.", nameof(channels));
        }

        if (height <= 0 || width <= 0)
        {
            throw new ArgumentException($"Image size must be positive; got {height}x{width}.", nameof(height));
        }

        long expected = (long)labels.Length * channels * height * width;
        if (pixels.LongLength != expected)
        {
            throw new ArgumentException(
                $"Pixel buffer holds {pixels.LongLength} bytes; {labels.Length} images of " +
                $"{channels}x{height}x{width} need {expected}.",
                nameof(pixels));
        }

        using var scope = torch.NewDisposeScope();
        var n = labels.Length;
        var images = layout == PixelLayout.ChannelsHeightWidth
            ? torch.tensor(pixels, new long[] { n, channels, height, width }, torch.ScalarType.Byte)
            : torch.tensor(pixels, new long[] { n, height, width, channels }, torch.ScalarType.Byte)
                .permute(0, 3, 1, 2).contiguous(); // [N, C, H, W]
        var labelTensor = torch.tensor(labels, new long[] { n }, torch.ScalarType.Int64);
        var dataset = new ImageTensorDataset(images, labelTensor);
        return dataset;
    }

    /// <summary>Number of batches of <paramref name="batchSize"/>, counting the last partial batch.</summary>
    public int BatchCount(int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        return (Count + batchSize - 1) / batchSize;
    }

    /// <summary>
    /// Batch <paramref name="batchIndex"/> of size <paramref name="batchSize"/> (the last one may be smaller), in
    /// storage order or in the order of <paramref name="order"/>. Call inside a dispose scope: the returned tensors
    /// are new handles (views when <paramref name="order"/> is null).
    /// </summary>
    /// <param name="batchIndex">Zero-based batch index, less than <see cref="BatchCount"/>.</param>
    /// <param name="batchSize">Images per batch.</param>
    /// <param name="order">Optional permutation of 0..N-1 (int64 [N], CPU), for example from
    /// <c>torch.randperm</c>.</param>
    /// <returns>uint8 images [B, C, H, W] and int64 labels [B], on the CPU.</returns>
    public (torch.Tensor Images, torch.Tensor Labels) GetBatch(int batchIndex, int batchSize,
        torch.Tensor? order = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var batches = BatchCount(batchSize);
        if (batchIndex < 0 || batchIndex >= batches)
        {
            throw new ArgumentOutOfRangeException(nameof(batchIndex), batchIndex, $"Expected 0..{batches - 1}.");
        }

        long start = (long)batchIndex * batchSize;
        long length = Math.Min(batchSize, Count - start);
        if (order is null)
        {
            return (Images.narrow(0, start, length), Labels.narrow(0, start, length));
        }

        var indices = order.narrow(0, start, length); // [B]
        return (Images.index_select(0, indices), Labels.index_select(0, indices));
    }

    IImageBatchStream IImageBatchSource.Open(long[]? order, int batchSize, CancellationToken cancellation)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new BatchStream(this, order, batchSize);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Images.Dispose();
        Labels.Dispose();
    }

    private long MinLabel()
    {
        if (Count == 0)
        {
            return 0;
        }

        using var min = Labels.min();
        return min.item<long>();
    }

    private static torch.Tensor ToCpuContiguous(torch.Tensor t)
    {
        var cpu = t.device_type == DeviceType.CPU ? t : t.cpu();
        var result = cpu.is_contiguous() ? cpu : cpu.contiguous();
        if (!ReferenceEquals(cpu, t) && !ReferenceEquals(result, cpu))
        {
            cpu.Dispose();
        }

        if (!ReferenceEquals(result, t))
        {
            t.Dispose();
        }

        return result;
    }

    /// <summary>Batches of the in-memory tensor, as <see cref="GetBatch"/> cuts them.</summary>
    private sealed class BatchStream : IImageBatchStream
    {
        private readonly ImageTensorDataset _dataset;
        private readonly torch.Tensor? _order;
        private readonly int _batchSize;
        private int _next;

        public BatchStream(ImageTensorDataset dataset, long[]? order, int batchSize)
        {
            _dataset = dataset;
            _batchSize = batchSize;
            _order = order is null ? null
                : torch.tensor(order, new long[] { order.Length }, torch.ScalarType.Int64).DetachFromDisposeScope();
        }

        public (torch.Tensor Images, torch.Tensor Labels) Next()
        {
            if (_next == _dataset.BatchCount(_batchSize))
            {
                throw new InvalidOperationException("Every batch of this pass was already read.");
            }

            return _dataset.GetBatch(_next++, _batchSize, _order);
        }

        public void Dispose() => _order?.Dispose();
    }
}
