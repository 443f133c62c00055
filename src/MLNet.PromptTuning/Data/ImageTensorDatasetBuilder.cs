using TorchSharp;

namespace MLNet.PromptTuning.Data;

/// <summary>
/// Fills an <see cref="ImageTensorDataset"/> one decoded image at a time, into one preallocated uint8 tensor.
/// Images of another size or channel count are converted on the way in with the same 8-bit operations as
/// <see cref="ImagePreprocessor"/> (PIL-style bicubic resize, BT.601 luma), so the cache holds one size and memory
/// stays at N·C·H·W bytes.
/// </summary>
public sealed class ImageTensorDatasetBuilder : IDisposable
{
    private readonly long[] _labels;
    private torch.Tensor? _images;
    private int _count;

    /// <summary>Allocates room for <paramref name="capacity"/> images of the stored size.</summary>
    /// <param name="capacity">Maximum number of images; must be non-negative.</param>
    /// <param name="channels">Stored channels: 1 or 3.</param>
    /// <param name="height">Stored height in pixels; must be positive.</param>
    /// <param name="width">Stored width in pixels; must be positive.</param>
    /// <exception cref="ArgumentException">An argument is out of range.</exception>
    public ImageTensorDatasetBuilder(int capacity, int channels, int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        if (channels != 1 && channels != 3)
        {
            throw new ArgumentException($"Channels must be 1 or 3; got {channels}.", nameof(channels));
        }

        if (height <= 0 || width <= 0)
        {
            throw new ArgumentException($"Image size must be positive; got {height}x{width}.", nameof(height));
        }

        Channels = channels;
        Height = height;
        Width = width;
        _labels = new long[capacity];
        _images = torch.zeros(new long[] { capacity, channels, height, width },
            torch.ScalarType.Byte).DetachFromDisposeScope();
    }

    /// <summary>Stored channels.</summary>
    public int Channels { get; }

    /// <summary>Stored height.</summary>
    public int Height { get; }

    /// <summary>Stored width.</summary>
    public int Width { get; }

    /// <summary>Images added so far.</summary>
    public int Count => _count;

    /// <summary>Maximum number of images.</summary>
    public int Capacity => _labels.Length;

    /// <summary>Adds one image, converting channels and resizing to the stored size when they differ.</summary>
    /// <param name="pixels">8-bit pixels, <c>channels·height·width</c> bytes.</param>
    /// <param name="channels">Channels of this image: 1 or 3.</param>
    /// <param name="height">Height of this image.</param>
    /// <param name="width">Width of this image.</param>
    /// <param name="label">Class index, non-negative.</param>
    /// <param name="layout">Byte order of <paramref name="pixels"/>.</param>
    /// <exception cref="ArgumentException">The buffer does not match the stated size, or the label is
    /// negative.</exception>
    /// <exception cref="InvalidOperationException">The builder is full or already built.</exception>
    public void Add(ReadOnlySpan<byte> pixels, int channels, int height, int width, long label,
        PixelLayout layout = PixelLayout.ChannelsHeightWidth)
    {
        var images = _images
            ?? throw new InvalidOperationException("Build() was already called; create a new builder.");
        if (_count == Capacity)
        {
            throw new InvalidOperationException($"The builder is full ({Capacity} images).");
        }

        if (channels != 1 && channels != 3)
        {
            throw new ArgumentException($"Channels must be 1 or 3; got {channels}.", nameof(channels));
        }

        if (height <= 0 || width <= 0 || pixels.Length != (long)channels * height * width)
        {
            throw new ArgumentException(
                $"Image {_count} has {pixels.Length} bytes; {channels}x{height}x{width} needs " +
                $"{(long)channels * height * width}.",
                nameof(pixels));
        }

        if (label < 0)
        {
            throw new ArgumentException($"Image {_count} has label {label}; labels are non-negative class indices.",
                nameof(label));
        }

        using var scope = torch.NewDisposeScope();
        var image = layout == PixelLayout.ChannelsHeightWidth
            ? torch.tensor(pixels.ToArray(), new long[] { channels, height, width }, torch.ScalarType.Byte)
            : torch.tensor(pixels.ToArray(), new long[] { height, width, channels },
                torch.ScalarType.Byte).permute(2, 0, 1);
        image = StoredImageConverter.Convert(image, Channels, Height, Width);
        images[_count].copy_(image);
        _labels[_count] = label;
        _count++;
    }

    /// <summary>Returns the dataset of the images added so far; the builder cannot be used afterwards.</summary>
    /// <exception cref="InvalidOperationException">Build() was already called.</exception>
    public ImageTensorDataset Build()
    {
        var images = _images
            ?? throw new InvalidOperationException("Build() was already called; create a new builder.");
        _images = null;
        using var scope = torch.NewDisposeScope();
        var filled = _count == Capacity ? images : images.narrow(0, 0, _count).clone();
        if (!ReferenceEquals(filled, images))
        {
            images.Dispose();
        }

        var labels = torch.tensor(_labels.AsSpan(0, _count).ToArray(), new long[] { _count }, torch.ScalarType.Int64);
        return new ImageTensorDataset(filled, labels);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _images?.Dispose();
        _images = null;
    }
}
