using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Data;
using TorchSharp;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// Reads the image of the current row of a bound <see cref="DataViewRow"/> as a [C, H, W] tensor with
/// <see cref="ImageInputSpec.Channels"/> channels: <c>uint8</c> for images, encoded bytes and byte pixels,
/// <c>float32</c> (values as in the column) for float pixels. The tensor is created in the caller's dispose scope, if
/// any. Data errors throw <see cref="InvalidDataException"/> naming the row.
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

    /// <summary>Images read so far that were in colour and were reduced to one channel (luma).</summary>
    public long ColorImagesReduced { get; private protected set; }

    /// <summary>Reads the current row.</summary>
    public abstract torch.Tensor Read();

    private protected InvalidDataException RowError(string problem, Exception? inner = null) =>
        new($"Row {Row.Position} of image column '{Column.Column.Name}' {problem}", inner);

    /// <summary>Planar uint8 [C, H, W] from an MLImage (BGRA32 or RGBA32, what ML.NET's SkiaSharp decoder
    /// yields).</summary>
    private protected torch.Tensor FromImage(MLImage image)
    {
        var planar = MLImagePlanes.ToPlanar(image, Channels, p => RowError(p));
        if (Channels == 1 && MLImagePlanes.HasColor(image, p => RowError(p)))
        {
            ColorImagesReduced++;
        }

        return torch.tensor(planar, new long[] { Channels, image.Height, image.Width });
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

/// <summary>Reads channel-planar pixel vectors of <typeparamref name="T"/> and converts their channel count.</summary>
internal abstract class PlanarPixelsRowReader<T> : ImageRowReader
    where T : unmanaged, IEquatable<T>
{
    private readonly ValueGetter<VBuffer<T>> _getter;
    private readonly T[] _source;
    private VBuffer<T> _buffer;

    private protected PlanarPixelsRowReader(ImageColumn column, DataViewRow row)
        : base(column, row)
    {
        _getter = row.GetGetter<VBuffer<T>>(column.Column);
        Shape = column.PixelShape!.Value;
        _source = new T[Shape.Size];
    }

    private protected PixelShape Shape { get; }

    public override torch.Tensor Read()
    {
        _getter(ref _buffer);
        if (_buffer.Length != _source.Length)
        {
            throw RowError($"has {_buffer.Length} values; expected {_source.Length} ({Shape}).");
        }

        _buffer.CopyTo(_source);
        Check(_source);
        int pixelCount = Shape.Height * Shape.Width;
        if (Channels == 1 && PixelConversion.HasColor<T>(_source, Shape.Channels, pixelCount))
        {
            ColorImagesReduced++;
        }

        var planar = new T[Channels * pixelCount];
        ConvertPlanes(_source, pixelCount, planar);
        return ToTensor(planar, new long[] { Channels, Shape.Height, Shape.Width });
    }

    /// <summary>Throws a row error when the values cannot be pixels.</summary>
    private protected virtual void Check(T[] values)
    {
    }

    private protected abstract void ConvertPlanes(T[] source, int pixelCount, T[] destination);

    private protected abstract torch.Tensor ToTensor(T[] planar, long[] shape);
}

/// <summary>Reads channel-planar byte pixel vectors.</summary>
internal sealed class BytePixelsRowReader : PlanarPixelsRowReader<byte>
{
    public BytePixelsRowReader(ImageColumn column, DataViewRow row)
        : base(column, row)
    {
    }

    private protected override void ConvertPlanes(byte[] source, int pixelCount, byte[] destination) =>
        PixelConversion.ConvertPlanes(source, Shape.Channels, pixelCount, Channels, destination);

    private protected override torch.Tensor ToTensor(byte[] planar, long[] shape) => torch.tensor(planar, shape);
}

/// <summary>Reads channel-planar float pixel vectors, rejecting NaN and infinite values.</summary>
internal sealed class SinglePixelsRowReader : PlanarPixelsRowReader<float>
{
    public SinglePixelsRowReader(ImageColumn column, DataViewRow row)
        : base(column, row)
    {
    }

    private protected override void Check(float[] values)
    {
        int bad = PixelConversion.IndexOfNonFinite(values);
        if (bad >= 0)
        {
            throw RowError(
                $"holds a non-finite pixel value ({values[bad].ToString(CultureInfo.InvariantCulture)}) at index " +
                $"{bad}; " +
                           "pixels must be finite numbers.");
        }
    }

    private protected override void ConvertPlanes(float[] source, int pixelCount, float[] destination) =>
        PixelConversion.ConvertPlanes(source, Shape.Channels, pixelCount, Channels, destination);

    private protected override torch.Tensor ToTensor(float[] planar, long[] shape) => torch.tensor(planar, shape);
}
