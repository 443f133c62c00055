using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Interop;
using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Tests.Interop;

public sealed class ImageReaderTests
{
    private sealed class BytesRow
    {
        public byte[] Bytes { get; set; } = Array.Empty<byte>();
    }

    private sealed class FlatPixelsRow
    {
        [VectorType(48)]
        public float[] Pixels { get; set; } = Array.Empty<float>();

        public string Label { get; set; } = string.Empty;
    }

    private sealed class DoublesRow
    {
        [VectorType(3)]
        public double[] Image { get; set; } = Array.Empty<double>();
    }

    // LoadFromEnumerable stores a [KeyType] value v as key v + 1 and values ≥ the count as missing (key 0).
    private sealed class KeyLabelRow
    {
        public const uint Missing = 3;

        public string Path { get; set; } = string.Empty;

        [KeyType(3)]
        public uint Label { get; set; }
    }

    private readonly MLContext _ml = new(seed: 1);

    [Fact]
    public void AllImageKindsReadTheSamePlanarRgbPixels()
    {
        using TestImageSet images = TestImageSet.Create(3);
        IDataView data = _ml.Transforms.LoadImages("Image", images.Folder, "Path")
            .Append(_ml.Transforms.ResizeImages("Image", images.Width, images.Height))
            .Append(_ml.Transforms.LoadRawImageBytes("Bytes", images.Folder, "Path"))
            .Append(_ml.Transforms.ExtractPixels("FloatPixels", "Image"))
            .Append(_ml.Transforms.ExtractPixels("BytePixels", "Image", outputAsFloatArray: false))
            .Fit(_ml.Data.LoadFromEnumerable(images.Rows)).Transform(_ml.Data.LoadFromEnumerable(images.Rows));

        var expected = Enumerable.Range(0, 3).Select(images.PlanarRgb).ToArray();
        var shape = new long[] { 3, images.Height, images.Width };
        foreach (string column in new[] { "Image", "Bytes", "BytePixels" })
        {
            ReadTensors(data, column, new ImageInputSpec(), t =>
            {
                Assert.Equal(torch.ScalarType.Byte, t.dtype);
                Assert.Equal(shape, t.shape);
                return t.data<byte>().ToArray();
            }).ForEach((pixels, i) => Assert.Equal(expected[i], pixels));
        }

        ReadTensors(data, "FloatPixels", new ImageInputSpec(), t =>
        {
            Assert.Equal(torch.ScalarType.Float32, t.dtype);
            Assert.Equal(shape, t.shape);
            return t.data<float>().ToArray();
        }).ForEach((pixels, i) => Assert.Equal(expected[i].Select(b => (float)b), pixels));
    }

    [Fact]
    public void GrayscaleUsesPilLumaAndGrayInputsAreReplicatedToRgb()
    {
        using TestImageSet images = TestImageSet.Create(2);
        IDataView data = _ml.Transforms.LoadImages("Image", images.Folder, "Path")
            .Append(_ml.Transforms.ResizeImages("Image", images.Width, images.Height))
            .Append(_ml.Transforms.ExtractPixels("Pixels", "Image"))
            .Fit(_ml.Data.LoadFromEnumerable(images.Rows)).Transform(_ml.Data.LoadFromEnumerable(images.Rows));

        int n = images.Width * images.Height;
        byte[] rgba = images.Rgba[1];
        byte[] luma = Enumerable.Range(0, n)
            .Select(p => (byte)((rgba[p * 4] * 19595 + rgba[p * 4 + 1] * 38470 + rgba[p * 4 + 2] * 7471
                + 0x8000) >> 16))
            .ToArray();
        byte[] gray = ReadTensors(data, "Image", new ImageInputSpec(Channels: 1), t => t.data<byte>().ToArray())[1];
        Assert.Equal(luma, gray);

        float[] grayFloat = ReadTensors(data, "Pixels", new ImageInputSpec(Channels: 1), t =>
            t.data<float>().ToArray())[1];
        float[] expectedFloat = Enumerable.Range(0, n)
            .Select(p => 0.299f * rgba[p * 4] + 0.587f * rgba[p * 4 + 1] + 0.114f * rgba[p * 4 + 2]).ToArray();
        Assert.Equal(expectedFloat, grayFloat);

        // A one-plane vector read for an RGB model: the plane, three times.
        FlatPixelsRow row = new() { Pixels = Enumerable.Range(0, 48).Select(i => (float)i).ToArray() };
        IDataView flat = _ml.Data.LoadFromEnumerable(new[] { row });
        float[] rgb = ReadTensors(flat, "Pixels", new ImageInputSpec(3, new PixelShape(1, 6, 8)), t =>
        {
            Assert.Equal(new long[] { 3, 6, 8 }, t.shape);
            return t.data<float>().ToArray();
        })[0];
        Assert.Equal(row.Pixels.Concat(row.Pixels).Concat(row.Pixels), rgb);
    }

    [Fact]
    public void FlatPixelVectorsNeedAShapeThatAgreesWithTheColumn()
    {
        IDataView flat = _ml.Data.LoadFromEnumerable(new[] { new FlatPixelsRow { Pixels = new float[48] } });

        var missing = Assert.Throws<ArgumentOutOfRangeException>(() =>
            ImageColumn.Resolve(flat.Schema, "Pixels", new ImageInputSpec()));
        Assert.Contains("'Pixels'", missing.Message);
        Assert.Contains("Vector<Single, 48>", missing.Message);
        Assert.Contains("PixelVectorShape", missing.Message);

        var wrongSize = Assert.Throws<ArgumentOutOfRangeException>(() =>
            ImageColumn.Resolve(flat.Schema, "Pixels", new ImageInputSpec(3, new PixelShape(3, 4, 5))));
        Assert.Contains("3x4x5 holds 60 values", wrongSize.Message);
        Assert.Contains("48 values", wrongSize.Message);

        ImageColumn ok = ImageColumn.Resolve(flat.Schema, "Pixels", new ImageInputSpec(3, new PixelShape(3, 4, 4)));
        Assert.Equal(ImageColumnKind.SinglePixels, ok.Kind);
        Assert.Equal(new PixelShape(3, 4, 4), ok.PixelShape);
    }

    [Fact]
    public void MissingImageColumnNamesTheRoleTheColumnAndWhatExists()
    {
        IDataView data = _ml.Data.LoadFromEnumerable(new[] { new ImageRow { Path = "a.png", Label = "x" } });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            ImageColumn.Resolve(data.Schema, "Photo", new ImageInputSpec()));
        Assert.Contains("image column 'Photo' was not found", e.Message);
        Assert.Contains("'Path', 'Label'", e.Message);
    }

    [Fact]
    public void WrongImageColumnTypeNamesRoleColumnExpectedAndActualTypes()
    {
        IDataView data = _ml.Data.LoadFromEnumerable(new[] { new DoublesRow { Image = new double[3] } });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            ImageColumn.Resolve(data.Schema, "Image", new ImageInputSpec()));
        Assert.Contains("image column 'Image'", e.Message);
        Assert.Contains("has type Vector<Double, 3>", e.Message);
        Assert.Contains("expected Image (from LoadImages)", e.Message);
        Assert.Contains("LoadRawImageBytes", e.Message);
        Assert.Contains("ExtractPixels", e.Message);

        // The estimator side says the same.
        var shapeError = Assert.Throws<ArgumentOutOfRangeException>(() =>
            SchemaChecks.CheckImageColumn(SchemaChecks.ToShape(data.Schema), "Image"));
        Assert.Contains("image column 'Image' has type Vector<Double>", shapeError.Message);
    }

    [Fact]
    public void UndecodableBytesNameTheRow()
    {
        using TestImageSet images = TestImageSet.Create(1);
        byte[] png = File.ReadAllBytes(Path.Combine(images.Folder, images.Rows[0].Path));
        IDataView data = _ml.Data.LoadFromEnumerable(new[]
        {
            new BytesRow { Bytes = png },
            new BytesRow { Bytes = new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 } },
        });

        var e = Assert.Throws<InvalidDataException>(() =>
            ReadTensors(data, "Bytes", new ImageInputSpec(), t => t.shape));
        Assert.StartsWith("Row 1 of image column 'Bytes' could not be decoded as an image (8 bytes)", e.Message);
    }

    [Fact]
    public void NonFinitePixelsNameTheRowAndIndex()
    {
        var rows = Enumerable.Range(0, 3).Select(_ => new FlatPixelsRow { Pixels = new float[48] }).ToArray();
        rows[2].Pixels[17] = float.NaN;
        IDataView data = _ml.Data.LoadFromEnumerable(rows);

        var e = Assert.Throws<InvalidDataException>(() =>
            ReadTensors(data, "Pixels", new ImageInputSpec(3, new PixelShape(3, 4, 4)), t => t.shape));
        Assert.Equal("Row 2 of image column 'Pixels' holds a non-finite pixel value (NaN) at index 17; " +
                     "pixels must be finite numbers.", e.Message);

        rows[2].Pixels[17] = float.PositiveInfinity;
        e = Assert.Throws<InvalidDataException>(() =>
            ReadTensors(_ml.Data.LoadFromEnumerable(rows), "Pixels", new ImageInputSpec(3, new PixelShape(3, 4, 4)),
                t => t.shape));
        Assert.Contains("Row 2", e.Message);
        Assert.Contains("(Infinity)", e.Message);
    }

    [Fact]
    public void LabelThatIsNotAKeyNamesTheColumnAndSuggestsMapValueToKey()
    {
        IDataView data = _ml.Data.LoadFromEnumerable(new[] { new FlatPixelsRow { Pixels = new float[48],
            Label = "a" } });

        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            LabeledRows.Scan(data, "Pixels", "Label", new ImageInputSpec(3, new PixelShape(3, 4, 4))));
        Assert.Contains("label column 'Label' has type String", e.Message);
        Assert.Contains("MapValueToKey(\"Label\")", e.Message);

        var shapeError = Assert.Throws<ArgumentOutOfRangeException>(() =>
            SchemaChecks.CheckLabelColumn(SchemaChecks.ToShape(data.Schema), "Label"));
        Assert.Contains("label column 'Label' has type String", shapeError.Message);
        Assert.Contains("MapValueToKey(\"Label\")", shapeError.Message);

        var missing = Assert.Throws<ArgumentOutOfRangeException>(() =>
            LabeledRows.Scan(data, "Pixels", "Class", new ImageInputSpec(3, new PixelShape(3, 4, 4))));
        Assert.Contains("label column 'Class' was not found", missing.Message);
    }

    [Fact]
    public void EmptyDataAndAllMissingLabelsAreClearErrors()
    {
        using TestImageSet images = TestImageSet.Create(2);
        var loadImages = _ml.Transforms.LoadImages("Image", images.Folder, "Path");

        IDataView empty = _ml.Data.LoadFromEnumerable(Array.Empty<KeyLabelRow>());
        var e = Assert.Throws<ArgumentException>(() =>
            LabeledRows.Scan(loadImages.Fit(empty).Transform(empty), "Image", "Label", new ImageInputSpec()));
        Assert.StartsWith("The training data is empty: no rows were read from columns 'Image' and 'Label'.", e.Message);

        IDataView unlabeled = _ml.Data.LoadFromEnumerable(images.Rows.Select(r =>
            new KeyLabelRow { Path = r.Path, Label = KeyLabelRow.Missing }));
        e = Assert.Throws<ArgumentException>(() =>
            LabeledRows.Scan(loadImages.Fit(unlabeled).Transform(unlabeled), "Image", "Label",
                new ImageInputSpec()));
        Assert.StartsWith(
            "The training data has no labelled rows: all 2 rows have a missing value in label column 'Label'",
                e.Message);
    }

    [Fact]
    public void LabeledImagesHoldZeroBasedClassesAndSkipMissingLabels()
    {
        using TestImageSet images = TestImageSet.Create(4);
        uint[] keys = { 1, KeyLabelRow.Missing, 2, 0 };
        IDataView rows = _ml.Data.LoadFromEnumerable(images.Rows.Select((r, i) =>
            new KeyLabelRow { Path = r.Path, Label = keys[i] }));
        IDataView data = _ml.Transforms.LoadImages("Image", images.Folder, "Path").Fit(rows).Transform(rows);

        LabeledRows read = LabeledRows.Scan(data, "Image", "Label", new ImageInputSpec());
        Assert.Equal(new[] { 1, 2, 0 }, read.Labels);
        Assert.Equal(new long[] { 0, 2, 3 }, read.Positions);
        Assert.Equal(1, read.SkippedUnlabeled);
        Assert.Equal(3, read.Classes.Count);
        Assert.Null(read.Classes.ValueType);

        var source = new DataViewImageSource(read,
            new ImageLoadingSettings(3, images.Height, images.Width, 1f / 255f, RequireStoredSize: true, Threads: 1),
            cacheRows: 0);
        using var batches = source.Open(null, 3, CancellationToken.None);
        using var scope = torch.NewDisposeScope();
        var (pixels, labels) = batches.Next();
        Assert.Equal(new long[] { 1, 2, 0 }, labels.data<long>().ToArray());
        Assert.Equal(images.PlanarRgb(3), pixels[2].data<byte>().ToArray());
    }

    private static List<T> ReadTensors<T>(IDataView data, string column, ImageInputSpec spec, Func<torch.Tensor,
        T> inspect)
    {
        ImageColumn image = ImageColumn.Resolve(data.Schema, column, spec);
        var result = new List<T>();
        using DataViewRowCursor cursor = data.GetRowCursor(new[] { image.Column });
        ImageRowReader reader = image.CreateReader(cursor);
        while (cursor.MoveNext())
        {
            using var scope = torch.NewDisposeScope();
            result.Add(inspect(reader.Read()));
        }

        return result;
    }
}

internal static class ListExtensions
{
    public static void ForEach<T>(this List<T> list, Action<T, int> action)
    {
        for (int i = 0; i < list.Count; i++)
        {
            action(list[i], i);
        }
    }
}
