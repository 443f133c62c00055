using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Data;
using TorchSharp;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// Reads the image of the current row of a bound <see cref="DataViewRow"/> as a [C, H, W] tensor with
/// <see cref="ImageInputSpec.Channels"/> channels: <c>uint8</c> for images, encoded bytes and byte pixels,
/// <c>float32</c> (values as in the column) for float pixels. The work is split in two so training can decode on
/// worker threads: <see cref="Capture"/> copies the row's value on the cursor's thread (the only thread that may touch
/// the cursor), and <see cref="CapturedImage.Decode"/> does the expensive part on any thread. Data errors throw
/// <see cref="InvalidDataException"/> naming the column, the row and, when known, the file.
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

    /// <summary>Reads and decodes the current row; the tensor is created in the caller's dispose scope, if
    /// any.</summary>
    public torch.Tensor Read() => Capture().Decode();

    /// <summary>Copies the current row's value, so it can be decoded later on another thread.</summary>
    public abstract CapturedImage Capture();

    private protected RowLocation Locate(string? path = null) => new(Column.Column.Name, Row.Position, path);
}

/// <summary>Where a captured image came from, for error messages.</summary>
internal readonly record struct RowLocation(string ColumnName, long Row, string? Path)
{
    /// <summary>An error naming the row, the column and the file when known.</summary>
    public InvalidDataException Error(string problem, Exception? inner = null) =>
        new($"Row {Row} of image column '{ColumnName}'" + (Path is null ? "" : $" (file '{Path}')") + $" {problem}",
            inner);
}

/// <summary>One row's image value, copied out of the cursor and not yet decoded.</summary>
internal abstract class CapturedImage
{
    private protected CapturedImage(RowLocation location) => Location = location;

    /// <summary>Where the value came from.</summary>
    public RowLocation Location { get; }

    /// <summary>Decodes to [C, H, W] in the calling thread's dispose scope; thread-safe.</summary>
    public abstract torch.Tensor Decode();
}

/// <summary>Reads <c>MLImage</c> values.</summary>
internal sealed class MLImageRowReader : ImageRowReader
{
    private readonly ValueGetter<MLImage> _getter;

    // Passed back on every call: ML.NET's image transforms dispose the previous image they handed out.
    private MLImage? _image;

    public MLImageRowReader(ImageColumn column, DataViewRow row)
        : base(column, row) => _getter = row.GetGetter<MLImage>(column.Column);

    public override CapturedImage Capture()
    {
        try
        {
            _getter(ref _image!);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException)
        {
            // ML.NET's LoadImages throws without naming the row (a JPEG cut short: "Invalid input stream contents").
            throw Locate().Error($"could not be loaded by the upstream image transform: {e.Message}", e);
        }

        if (_image is null)
        {
            throw Locate().Error("has no image (the value is null).");
        }

        // LoadImages tags each image with its file; the decoder hides truncation, so Decode checks the file itself.
        var location = Locate(_image.Tag as string);
        byte[] planes = MLImagePlanes.ToPlanar(_image, Channels, p => location.Error(p));
        if (Channels == 1 && MLImagePlanes.HasColor(_image, p => location.Error(p)))
        {
            Column.RecordColorReduced(location.Row);
        }

        return new PlanarBytes(location, planes, new long[] { Channels, _image.Height, _image.Width });
    }

    private sealed class PlanarBytes(RowLocation location, byte[] planes, long[] shape) : CapturedImage(location)
    {
        public override torch.Tensor Decode()
        {
            if (Location.Path is { } path && File.Exists(path) &&
                EncodedImageIntegrity.FindTruncation(File.ReadAllBytes(path)) is { } problem)
            {
                throw Location.Error($"{problem}; re-copy or remove the file.");
            }

            return torch.tensor(planes, shape);
        }
    }
}

/// <summary>Decodes encoded image files held as byte vectors.</summary>
internal sealed class EncodedBytesRowReader : ImageRowReader
{
    private readonly ValueGetter<VBuffer<byte>> _getter;
    private VBuffer<byte> _buffer;

    public EncodedBytesRowReader(ImageColumn column, DataViewRow row)
        : base(column, row) => _getter = row.GetGetter<VBuffer<byte>>(column.Column);

    public override CapturedImage Capture()
    {
        _getter(ref _buffer);
        if (_buffer.Length == 0)
        {
            throw Locate().Error("is empty; expected the bytes of an encoded image file.");
        }

        var bytes = new byte[_buffer.Length];
        _buffer.CopyTo(bytes);
        return new EncodedFile(Locate(), bytes, Column);
    }

    private sealed class EncodedFile(RowLocation location, byte[] bytes, ImageColumn column) : CapturedImage(location)
    {
        public override torch.Tensor Decode()
        {
            if (EncodedImageIntegrity.FindTruncation(bytes) is { } problem)
            {
                throw Location.Error($"{problem}; re-copy or remove the file.");
            }

            MLImage image;
            try
            {
                image = MLImage.CreateFromStream(new MemoryStream(bytes, writable: false));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw Location.Error($"could not be decoded as an image ({bytes.Length} bytes): {e.Message}", e);
            }

            using (image)
            {
                int channels = column.Spec.Channels;
                var planes = MLImagePlanes.ToPlanarTensor(image, channels, p => Location.Error(p)); // [C, H, W]
                if (channels == 1 && MLImagePlanes.HasColor(image, p => Location.Error(p)))
                {
                    column.RecordColorReduced(Location.Row);
                }

                return planes;
            }
        }
    }
}

/// <summary>Reads channel-planar pixel vectors of <typeparamref name="T"/> and converts their channel count.</summary>
internal abstract class PlanarPixelsRowReader<T> : ImageRowReader
    where T : unmanaged, IEquatable<T>
{
    private readonly ValueGetter<VBuffer<T>> _getter;
    private VBuffer<T> _buffer;

    private protected PlanarPixelsRowReader(ImageColumn column, DataViewRow row)
        : base(column, row)
    {
        _getter = row.GetGetter<VBuffer<T>>(column.Column);
        Shape = column.PixelShape!.Value;
    }

    private protected PixelShape Shape { get; }

    public override CapturedImage Capture()
    {
        _getter(ref _buffer);
        if (_buffer.Length != Shape.Size)
        {
            throw Locate().Error($"has {_buffer.Length} values; expected {Shape.Size} ({Shape}).");
        }

        var source = new T[Shape.Size];
        _buffer.CopyTo(source);
        return new Pixels(Locate(), source, this);
    }

    /// <summary>Throws a row error when the values cannot be pixels.</summary>
    private protected virtual void Check(T[] values, RowLocation location)
    {
    }

    private protected abstract void ConvertPlanes(T[] source, int pixelCount, T[] destination);

    private protected abstract torch.Tensor ToTensor(T[] planar, long[] shape);

    /// <summary>Holds the copied values; conversion reads only immutable state of the reader.</summary>
    private sealed class Pixels(RowLocation location, T[] source, PlanarPixelsRowReader<T> reader)
        : CapturedImage(location)
    {
        public override torch.Tensor Decode()
        {
            reader.Check(source, Location);
            var shape = reader.Shape;
            int pixelCount = shape.Height * shape.Width;
            if (reader.Channels == 1 && PixelConversion.HasColor<T>(source, shape.Channels, pixelCount))
            {
                reader.Column.RecordColorReduced(Location.Row);
            }

            var planar = new T[reader.Channels * pixelCount];
            reader.ConvertPlanes(source, pixelCount, planar);
            return reader.ToTensor(planar, new long[] { reader.Channels, shape.Height, shape.Width });
        }
    }
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

    private protected override void Check(float[] values, RowLocation location)
    {
        int bad = PixelConversion.IndexOfNonFinite(values);
        if (bad >= 0)
        {
            throw location.Error(
                $"holds a non-finite pixel value ({values[bad].ToString(CultureInfo.InvariantCulture)}) at index " +
                $"{bad}; pixels must be finite numbers.");
        }
    }

    private protected override void ConvertPlanes(float[] source, int pixelCount, float[] destination) =>
        PixelConversion.ConvertPlanes(source, Shape.Channels, pixelCount, Channels, destination);

    private protected override torch.Tensor ToTensor(float[] planar, long[] shape) => torch.tensor(planar, shape);
}
