using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Interop;

namespace MLNet.PromptTuning.Tests.Interop;

/// <summary>One input row of the image tests: a PNG file name (relative to the set's folder) and its class.</summary>
public sealed class ImageRow
{
    [LoadColumn(0)]
    public string Path { get; set; } = string.Empty;

    [LoadColumn(1)]
    public string Label { get; set; } = string.Empty;
}

/// <summary>
/// Small PNGs written at test time into a temporary folder. Image i belongs to class i % 3 ("red", "green",
/// "blue"), whose channel dominates; pixel values vary with position and index so every image differs.
/// </summary>
internal sealed class TestImageSet : IDisposable
{
    public static readonly string[] ClassNames = { "red", "green", "blue" };

    private TestImageSet(string folder, ImageRow[] rows, byte[][] rgba, int width, int height)
    {
        Folder = folder;
        Rows = rows;
        Rgba = rgba;
        Width = width;
        Height = height;
    }

    public string Folder { get; }

    public IReadOnlyList<ImageRow> Rows { get; }

    /// <summary>The RGBA pixels each PNG was written from, row-major.</summary>
    public IReadOnlyList<byte[]> Rgba { get; }

    public int Width { get; }

    public int Height { get; }

    public static TestImageSet Create(int count, int width = 6, int height = 5)
    {
        string folder = Path.Combine(Path.GetTempPath(), "mlnet-pt-images-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var rows = new ImageRow[count];
        var pixels = new byte[count][];
        for (int i = 0; i < count; i++)
        {
            int dominant = i % 3;
            var rgba = new byte[width * height * 4];
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    int at = (y * width + x) * 4;
                    for (int c = 0; c < 3; c++)
                    {
                        int value = c == dominant ? 180 + (i * 7 + x * 5 + y * 3) % 70
                            : (i * 13 + x * 11 + y * 17 + c * 29) % 90;
                        rgba[at + c] = (byte)value;
                    }

                    rgba[at + 3] = 255;
                }
            }

            string name = $"img{i:D2}.png";
            using (MLImage image = MLImage.CreateFromPixels(width, height, MLPixelFormat.Rgba32, rgba))
            {
                image.Save(Path.Combine(folder, name));
            }

            rows[i] = new ImageRow { Path = name, Label = ClassNames[dominant] };
            pixels[i] = rgba;
        }

        return new TestImageSet(folder, rows, pixels, width, height);
    }

    /// <summary>Planar RGB [3, H, W] of image <paramref name="index"/>, as the readers must produce it.</summary>
    public byte[] PlanarRgb(int index)
    {
        byte[] rgba = Rgba[index];
        int n = Width * Height;
        var planar = new byte[3 * n];
        for (int p = 0; p < n; p++)
        {
            for (int c = 0; c < 3; c++)
            {
                planar[c * n + p] = rgba[p * 4 + c];
            }
        }

        return planar;
    }

    /// <summary>Writes the rows as a tab-separated file with a header (Path, Label) for TextLoader.</summary>
    public string WriteTsv()
    {
        string path = Path.Combine(Folder, "rows.tsv");
        File.WriteAllLines(path, new[] { "Path\tLabel" }.Concat(Rows.Select(r => $"{r.Path}\t{r.Label}")));
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// A test-only estimator over <see cref="PixelMeanLinearTransformer"/>, so <c>EstimatorChain.Fit</c> (which calls
/// <see cref="GetOutputSchema"/> first) runs exactly as it will for PromptViT. Class k's logit is 10 × the mean of
/// channel k (modulo the channel count), so the dominant colour wins.
/// </summary>
internal sealed class PixelMeanLinearEstimator : IEstimator<PixelMeanLinearTransformer>
{
    private readonly MLContext _mlContext;
    private readonly string _imageColumnName;
    private readonly int _batchSize;
    private readonly ImageInputSpec _spec;

    public PixelMeanLinearEstimator(MLContext mlContext, string imageColumnName = "Image", int batchSize = 4,
        ImageInputSpec? spec = null)
    {
        _mlContext = mlContext;
        _imageColumnName = imageColumnName;
        _batchSize = batchSize;
        _spec = spec ?? new ImageInputSpec();
    }

    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaShape.Column label = SchemaChecks.CheckLabelColumn(inputSchema, "Label");
        SchemaChecks.CheckImageColumn(inputSchema, _imageColumnName);
        return MulticlassOutputColumns.GetOutputSchemaShape(inputSchema, label, "Score", "PredictedLabel");
    }

    public PixelMeanLinearTransformer Fit(IDataView input)
    {
        ClassLabels classes = ClassLabels.FromLabelColumn(SchemaChecks.CheckLabelColumn(input.Schema, "Label"));
        return Create(_mlContext, classes, _imageColumnName, _batchSize, _spec);
    }

    public static PixelMeanLinearTransformer Create(MLContext mlContext, ClassLabels classes,
        string imageColumnName = "Image", int batchSize = 4, ImageInputSpec? spec = null)
    {
        spec ??= new ImageInputSpec();
        int channels = spec.Channels;
        var weights = new float[classes.Count * channels];
        var bias = new float[classes.Count];
        for (int k = 0; k < classes.Count; k++)
        {
            weights[k * channels + k % channels] = 10f;
            bias[k] = 0.01f * k;
        }

        var settings = new ImageScoringSettings(imageColumnName, "Score", "PredictedLabel", batchSize, spec);
        return new PixelMeanLinearTransformer(mlContext, settings, classes, weights, bias);
    }
}

internal static class ScoreReading
{
    /// <summary>Reads a float-vector column of every row.</summary>
    public static List<float[]> ReadVectors(IDataView data, string column)
    {
        var result = new List<float[]>();
        DataViewSchema.Column col = data.Schema[column];
        using DataViewRowCursor cursor = data.GetRowCursor(new[] { col });
        ValueGetter<VBuffer<float>> getter = cursor.GetGetter<VBuffer<float>>(col);
        VBuffer<float> value = default;
        while (cursor.MoveNext())
        {
            getter(ref value);
            result.Add(value.DenseValues().ToArray());
        }

        return result;
    }

    /// <summary>Exact bit pattern of floats, for bit-identity comparisons.</summary>
    public static string Bits(IEnumerable<float> values) =>
        string.Join(",",
            values.Select(v => BitConverter.SingleToInt32Bits(v).ToString("X8", CultureInfo.InvariantCulture)));
}
