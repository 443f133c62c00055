using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Data;
using TorchSharp;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// Reads the image of the current row of a bound <see cref="DataViewRow"/> as a [C, H, W] tensor with
/// <see cref="ImageInputSpec.Channels"/> channels: <c>uint8</c> for images, encoded bytes and byte pixels, <c>float32</c>
/// (values as in the column) for float pixels. The tensor is created in the caller's dispose scope, if any.
/// Data errors throw <see cref="InvalidDataException"/> naming the row.
/// </summary>
internal abstract class ImageRowReader
{
    private protected ImageRowReader(ImageColumn column, DataViewRow row)
    {
        Column = column;
        Row = row;
    }

    private protected ImageColumn Column { get; }

    private protected DataViewRow Row { get; }

    private protected int Channels => Column.Spec.Channels;

    /// <summary>Reads the current row.</summary>
    public abstract torch.Tensor Read();

    private protected InvalidDataException RowError(string problem, Exception? inner = null) =>
        new($"Row {Row.Position} of image column '{Column.Column.Name}' {problem}", inner);

    /// <summary>Planar uint8 [C, H, W] from an MLImage (BGRA32 or RGBA32, what ML.NET's SkiaSharp decoder yields).</summary>
    private protected torch.Tensor FromImage(MLImage image)
    {
        int red, green, blue;
        switch (image.PixelFormat)
        {
            case MLPixelFormat.Bgra32:
                (red, green, blue) = (2, 1, 0);
                break;
            case MLPixelFormat.Rgba32:
                (red, green, blue) = (0, 1, 2);
                break;
            default:
                throw RowError($"has pixel format {image.PixelFormat}; expected Bgra32 or Rgba32.");
        }

        int width = image.Width;
        int height = image.Height;
        ReadOnlySpan<byte> pixels = image.Pixels;
        int pixelCount = checked(width * height);
        if (width <= 0 || height <= 0 || image.BitsPerPixel != 32 || pixels.Length != pixelCount * 4)
        {
            throw RowError($"holds a {width}x{height} image with {image.BitsPerPixel} bits per pixel and " +
                           $"{pixels.Length} bytes of pixels; expected a non-empty 32-bit image without row padding.");
        }

        var planar = new byte[Channels * pixelCount];
        PixelConversion.InterleavedToPlanar(pixels, pixelCount, 4, red, green, blue, Channels, planar);
        return torch.tensor(planar, new long[] { Channels, height, width });
    }
}

/// <summary>Reads <c>MLImage</c> values.</summary>
internal sealed class MLImageRowReader : ImageRowReader
{
    private readonly ValueGetter<MLImage> _getter;

    // Passed back on every call: ML.NET's image transforms dispose the previous image they handed out.
    private MLImage? _image;

    public MLImageRowReader(ImageColumn column, DataViewRow row)
        : base(column, row) => _getter = row.GetGetter<MLImage>(column.Column);

    public override torch.Tensor Read()
    {
        _getter(ref _image!);
        if (_image is null)
        {
            throw RowError("has no image (the value is null).");
        }

        return FromImage(_image);
    }
}

/// <summary>Decodes encoded image files held as byte vectors.</summary>
internal sealed class EncodedBytesRowReader : ImageRowReader
{
    private readonly ValueGetter<VBuffer<byte>> _getter;
    private VBuffer<byte> _buffer;
    private byte[] _bytes = Array.Empty<byte>();

    public EncodedBytesRowReader(ImageColumn column, DataViewRow row)
        : base(column, row) => _getter = row.GetGetter<VBuffer<byte>>(column.Column);

    public override torch.Tensor Read()
    {
        _getter(ref _buffer);
        int length = _buffer.Length;
        if (length == 0)
        {
            throw RowError("is empty; expected the bytes of an encoded image file.");
        }

        if (_bytes.Length < length)
        {
            _bytes = new byte[length];
        }

        _buffer.CopyTo(_bytes.AsSpan(0, length));
        MLImage image;
        try
        {
            image = MLImage.CreateFromStream(new MemoryStream(_bytes, 0, length, writable: false));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw RowError($"could not be decoded as an image ({length} bytes): {e.Message}", e);
        }

        using (image)
        {
            return FromImage(image);
        }
    }
}

/// <summary>Reads channel-planar byte pixel vectors.</summary>
internal sealed class BytePixelsRowReader : ImageRowReader
{
    private readonly ValueGetter<VBuffer<byte>> _getter;
    private readonly PixelShape _shape;
    private readonly byte[] _source;
    private VBuffer<byte> _buffer;

    public BytePixelsRowReader(ImageColumn column, DataViewRow row)
        : base(column, row)
    {
        _getter = row.GetGetter<VBuffer<byte>>(column.Column);
        _shape = column.PixelShape!.Value;
        _source = new byte[_shape.Size];
    }

    public override torch.Tensor Read()
    {
        _getter(ref _buffer);
        if (_buffer.Length != _source.Length)
        {
            throw RowError($"has {_buffer.Length} values; expected {_source.Length} ({_shape}).");
        }

        _buffer.CopyTo(_source);
        int pixelCount = _shape.Height * _shape.Width;
        var planar = new byte[Channels * pixelCount];
        PixelConversion.ConvertPlanes(_source, _shape.Channels, pixelCount, Channels, planar);
        return torch.tensor(planar, new long[] { Channels, _shape.Height, _shape.Width });
    }
}

/// <summary>Reads channel-planar float pixel vectors, rejecting NaN and infinite values.</summary>
internal sealed class SinglePixelsRowReader : ImageRowReader
{
    private readonly ValueGetter<VBuffer<float>> _getter;
    private readonly PixelShape _shape;
    private readonly float[] _source;
    private VBuffer<float> _buffer;

    public SinglePixelsRowReader(ImageColumn column, DataViewRow row)
        : base(column, row)
    {
        _getter = row.GetGetter<VBuffer<float>>(column.Column);
        _shape = column.PixelShape!.Value;
        _source = new float[_shape.Size];
    }

    public override torch.Tensor Read()
    {
        _getter(ref _buffer);
        if (_buffer.Length != _source.Length)
        {
            throw RowError($"has {_buffer.Length} values; expected {_source.Length} ({_shape}).");
        }

        _buffer.CopyTo(_source);
        int bad = PixelConversion.IndexOfNonFinite(_source);
        if (bad >= 0)
        {
            throw RowError($"holds a non-finite pixel value ({_source[bad].ToString(CultureInfo.InvariantCulture)}) at index {bad}; " +
                           "pixels must be finite numbers.");
        }

        int pixelCount = _shape.Height * _shape.Width;
        var planar = new float[Channels * pixelCount];
        PixelConversion.ConvertPlanes(_source, _shape.Channels, pixelCount, Channels, planar);
        return torch.tensor(planar, new long[] { Channels, _shape.Height, _shape.Width });
    }
}
