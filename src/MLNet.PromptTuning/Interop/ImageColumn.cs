using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNet.PromptTuning.Data;

namespace MLNet.PromptTuning.Interop;

/// <summary>The kinds of image column a PromptViT model reads.</summary>
internal enum ImageColumnKind
{
    /// <summary><c>MLImage</c> values from <c>LoadImages</c> (and <c>ResizeImages</c>,
    /// <c>ConvertToGrayscale</c>).</summary>
    Image,

    /// <summary>Encoded image files (PNG, JPEG, BMP, …) as <c>VarVector&lt;Byte&gt;</c> from
    /// <c>LoadRawImageBytes</c>.</summary>
    EncodedBytes,

    /// <summary>Channel-planar pixels as a <c>Vector&lt;Byte, C, H, W&gt;</c> (<c>ExtractPixels</c> with
    /// <c>outputAsFloatArray: false</c>).</summary>
    BytePixels,

    /// <summary>Channel-planar pixels as a <c>Vector&lt;Single&gt;</c> of C×H×W values
    /// (<c>ExtractPixels</c>).</summary>
    SinglePixels,
}

/// <summary>
/// An image column of a concrete schema, checked and classified: which kind it is and, for pixel vectors, the
/// planar shape to read. <see cref="CreateReader"/> binds it to a row.
/// </summary>
internal sealed class ImageColumn
{
    /// <summary>What the error messages list as accepted types.</summary>
    public const string ExpectedTypes =
        "Image (from LoadImages), VarVector<Byte> or Vector<Byte> of encoded image bytes (from LoadRawImageBytes), " +
        "or a known-size Vector<Single> or Vector<Byte> of channel-planar pixels (from ExtractPixels)";

    private ImageColumn(DataViewSchema.Column column, ImageColumnKind kind, PixelShape? shape, ImageInputSpec spec)
    {
        Column = column;
        Kind = kind;
        PixelShape = shape;
        Spec = spec;
    }

    /// <summary>The schema column.</summary>
    public DataViewSchema.Column Column { get; }

    /// <summary>How values are read.</summary>
    public ImageColumnKind Kind { get; }

    /// <summary>Planar shape of pixel-vector columns; null for images and encoded bytes.</summary>
    public PixelShape? PixelShape { get; }

    /// <summary>The conversion settings.</summary>
    public ImageInputSpec Spec { get; }

    // Rows whose colour image was reduced to one channel; a set, since uncached rows are decoded every epoch.
    private readonly HashSet<long> _colorRowsReduced = new();

    /// <summary>How many distinct rows held a colour image that was reduced to luma for a 1-channel backbone.</summary>
    public int ColorRowsReduced
    {
        get
        {
            lock (_colorRowsReduced)
            {
                return _colorRowsReduced.Count;
            }
        }
    }

    /// <summary>Records that <paramref name="row"/>'s colour image was reduced to luma; thread-safe.</summary>
    public void RecordColorReduced(long row)
    {
        lock (_colorRowsReduced)
        {
            _colorRowsReduced.Add(row);
        }
    }

    /// <summary>
    /// Finds and checks the image column. Throws <see cref="ArgumentOutOfRangeException"/> (ML.NET's exception for a
    /// schema mismatch) naming the role, the column, the expected types and the actual type.
    /// </summary>
    /// <param name="schema">The input schema.</param>
    /// <param name="columnName">Name of the image column.</param>
    /// <param name="spec">Channels and the optional pixel-vector shape.</param>
    /// <param name="role">How messages call the column, for example "image".</param>
    public static ImageColumn Resolve(DataViewSchema schema, string columnName, ImageInputSpec spec,
        string role = "image")
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentException.ThrowIfNullOrEmpty(columnName);
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();

        DataViewSchema.Column column = SchemaChecks.FindColumn(schema, columnName, role);
        DataViewType type = column.Type;
        switch (type)
        {
            case ImageDataViewType:
                return new ImageColumn(column, ImageColumnKind.Image, null, spec);

            case VectorDataViewType { ItemType: var item } vector when item == NumberDataViewType.Byte:
                // Three dimensions mean pixels (ExtractPixels); anything else is taken as an encoded file.
                return vector.Dimensions.Length == 3
                    ? new ImageColumn(column, ImageColumnKind.BytePixels, InferShape(column, vector, spec, role), spec)
                    : new ImageColumn(column, ImageColumnKind.EncodedBytes, null, spec);

            case VectorDataViewType { ItemType: var item } vector when item == NumberDataViewType.Single:
                if (!vector.IsKnownSize)
                {
                    throw SchemaChecks.Mismatch(role, column,
                        "a known-size Vector<Single> of C×H×W pixels; a variable-size vector has no image shape. " +
                        $"Accepted types: {ExpectedTypes}");
                }

                return new ImageColumn(column, ImageColumnKind.SinglePixels, InferShape(column, vector, spec, role),
                    spec);

            default:
                throw SchemaChecks.Mismatch(role, column, ExpectedTypes);
        }
    }

    /// <summary>Binds the column to a row or cursor; the reader reads the row's current value.</summary>
    public ImageRowReader CreateReader(DataViewRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return Kind switch
        {
            ImageColumnKind.Image => new MLImageRowReader(this, row),
            ImageColumnKind.EncodedBytes => new EncodedBytesRowReader(this, row),
            ImageColumnKind.BytePixels => new BytePixelsRowReader(this, row),
            _ => new SinglePixelsRowReader(this, row),
        };
    }

    private static PixelShape InferShape(DataViewSchema.Column column, VectorDataViewType vector, ImageInputSpec spec,
        string role)
    {
        var dims = vector.Dimensions;
        PixelShape? fromType = dims.Length == 3 ? new PixelShape(dims[0], dims[1], dims[2]) : null;
        PixelShape? fromOption = spec.PixelVectorShape;

        if (fromOption is { } option)
        {
            if (option.Size != vector.Size)
            {
                throw new ArgumentOutOfRangeException(nameof(ImageInputSpec.PixelVectorShape), option,
                    $"PixelVectorShape {option} holds {option.Size} values, but {role} column '{column.Name}' " +
                    $"has type {vector} ({vector.Size} values).");
            }

            if (fromType is { } typed && typed != option)
            {
                throw new ArgumentOutOfRangeException(nameof(ImageInputSpec.PixelVectorShape), option,
                    $"PixelVectorShape {option} disagrees with the dimensions of {role} column '{column.Name}' " +
                    $"({vector}), read as channels x height x width = {typed}.");
            }

            return option;
        }

        if (fromType is not { } shape)
        {
            throw new ArgumentOutOfRangeException(nameof(ImageInputSpec.PixelVectorShape), null,
                $"The {role} column '{column.Name}' has type {vector}, which does not say the image's channels, " +
                "height and width. Set PixelVectorShape (channels, height, width), or produce the column with " +
                "ExtractPixels, which records them.");
        }

        if (shape.Channels is not (1 or 3))
        {
            bool looksInterleaved = dims[2] is 1 or 3 or 4;
            throw new ArgumentOutOfRangeException(nameof(ImageInputSpec.PixelVectorShape), shape,
                $"The {role} column '{column.Name}' has type {vector}, read as {shape.Channels} channel planes of " +
                $"{shape.Height}x{shape.Width}; only 1 or 3 planes (RGB order) are supported. " +
                (looksInterleaved
                    ? "It looks interleaved: use ExtractPixels with interleavePixelColors: false."
                    : "Use ExtractPixels with colorsToExtract: Rgb (no alpha) or a single color."));
        }

        if (shape.Height <= 0 || shape.Width <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ImageInputSpec.PixelVectorShape), shape,
                $"The {role} column '{column.Name}' has type {vector}, which is not a valid channels x height x " +
                $"width " +
                $"shape.");
        }

        return shape;
    }
}
