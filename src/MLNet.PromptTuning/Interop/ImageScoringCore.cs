using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNet.PromptTuning.Data;
using TorchSharp;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// The model-agnostic half of an image classification transformer: it turns an <see cref="IImageBatchScorer"/> into
/// ML.NET's transformer contract. <see cref="Transform"/> is lazy and scores <see
/// cref="ImageScoringSettings.BatchSize"/> rows per scorer call; <see cref="GetRowToRowMapper"/> scores row by row for
/// <c>PredictionEngine</c>. Outputs are those of a native multiclass trainer (<see cref="MulticlassOutputColumns"/>);
/// scores are softmax probabilities. A transformer holds one core and forwards its <c>ITransformer</c> members to it;
/// it saves the core's part with
/// <see cref="Save"/> and rebuilds it after loading its own model with <see cref="LoadParts"/>.
/// </summary>
internal sealed class ImageScoringCore
{
    private const int FirstLayoutVersion = 1;

    // Layout 2 adds a SHA-256 of the class labels' key values, checked before ML.NET's codec decodes them.
    private const int LayoutVersion = 2;

    /// <summary>Creates the core.</summary>
    /// <param name="environment">The ML.NET environment (MLContext) for channels and cancellation.</param>
    /// <param name="settings">Columns, batch size and image conversion.</param>
    /// <param name="classes">The classes, with the training label's key values when it had them.</param>
    /// <param name="scorer">The model; the caller keeps ownership.</param>
    public ImageScoringCore(IHostEnvironment environment, ImageScoringSettings settings, ClassLabels classes,
        IImageBatchScorer scorer)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentNullException.ThrowIfNull(scorer);
        settings.Validate();
        Host = environment.Register(nameof(ImageScoringCore));
        Settings = settings;
        Classes = classes;
        Scorer = scorer;
    }

    /// <summary>The host for channels and <c>CheckAlive</c> (cancellation).</summary>
    public IHost Host { get; }

    /// <summary>Columns, batch size and image conversion.</summary>
    public ImageScoringSettings Settings { get; }

    /// <summary>The predicted classes.</summary>
    public ClassLabels Classes { get; }

    /// <summary>The model.</summary>
    public IImageBatchScorer Scorer { get; }

    /// <summary>Always true: every output row depends only on its input row.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The output schema for <paramref name="inputSchema"/>; throws when the image column is missing or
    /// unusable.</summary>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => Bind(inputSchema).OutputSchema;

    /// <summary>A lazy view scoring <paramref name="input"/> in batches as it is read.</summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new ImageScoringDataView(this, input);
    }

    /// <summary>A row mapper scoring one row at a time (what <c>PredictionEngine</c> uses).</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) =>
        new ImageScoringRowMapper(this, Bind(inputSchema));

    /// <summary>Writes settings and classes into the owner's model stream.</summary>
    public void Save(ModelWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        BinaryWriter w = writer.Writer;
        w.Write(LayoutVersion);
        writer.WriteString(Settings.ImageColumnName);
        writer.WriteString(Settings.ScoreColumnName);
        writer.WriteString(Settings.PredictedLabelColumnName);
        w.Write(Settings.BatchSize);
        w.Write(Settings.Image.Channels);
        w.Write(Settings.Image.PixelVectorShape.HasValue);
        if (Settings.Image.PixelVectorShape is { } shape)
        {
            w.Write(shape.Channels);
            w.Write(shape.Height);
            w.Write(shape.Width);
        }

        writer.WriteClassLabels(Classes, withDigest: true);
    }

    /// <summary>Reads what <see cref="Save"/> wrote; the owner then loads its model and creates the core.</summary>
    public static (ImageScoringSettings Settings, ClassLabels Classes) LoadParts(ModelReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        BinaryReader r = reader.Reader;
        int layout = r.ReadInt32();
        if (layout != LayoutVersion && layout != FirstLayoutVersion)
        {
            throw new InvalidDataException(
                $"Unknown image scoring layout {layout}; this library reads {FirstLayoutVersion} and " +
                $"{LayoutVersion}.");
        }

        string image = reader.ReadString();
        string score = reader.ReadString();
        string predicted = reader.ReadString();
        int batchSize = r.ReadInt32();
        int channels = r.ReadInt32();
        PixelShape? shape = r.ReadBoolean() ? new PixelShape(r.ReadInt32(), r.ReadInt32(), r.ReadInt32()) : null;
        ClassLabels classes = reader.ReadClassLabels(withDigest: layout >= LayoutVersion);

        var settings = new ImageScoringSettings(image, score, predicted, batchSize,
            new ImageInputSpec(channels, shape));
        try
        {
            settings.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"The saved image scoring settings are invalid: {e.Message}", e);
        }

        return (settings, classes);
    }

    /// <summary>Resolves the image column and builds the output schema for one input schema.</summary>
    internal ImageScoringBinding Bind(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ImageColumn image = ImageColumn.Resolve(inputSchema, Settings.ImageColumnName, Settings.Image);
        DataViewSchema output = MulticlassOutputColumns.BuildOutputSchema(inputSchema, Settings.ScoreColumnName,
            Settings.PredictedLabelColumnName, Classes);
        return new ImageScoringBinding(inputSchema, output, image);
    }

    /// <summary>
    /// Reads up to <paramref name="maxRows"/> images with <paramref name="readNext"/> (null = no more rows) and
    /// scores them in one scorer call, writing softmax probabilities row after row into
    /// <paramref name="probabilities"/>. All tensors die before it returns. Returns the number of rows scored.
    /// </summary>
    internal int ScoreBatch(Func<torch.Tensor?> readNext, int maxRows, float[] probabilities)
    {
        Host.CheckAlive();
        int classes = Classes.Count;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();

        var images = new List<torch.Tensor>(maxRows);
        while (images.Count < maxRows)
        {
            // Each row in its own scope: a 12-megapixel photo is shrunk to the model's size before the next is read.
            using var rowScope = torch.NewDisposeScope();
            if (readNext() is not { } image)
            {
                break;
            }

            images.Add(Scorer.Prepare(image).MoveToOuterDisposeScope());
        }

        if (images.Count == 0)
        {
            return 0;
        }

        torch.Tensor logits = Scorer.ScoreBatch(images);
        if (logits.dim() != 2 || logits.shape[0] != images.Count || logits.shape[1] != classes)
        {
            throw new InvalidOperationException(
                $"The scorer returned logits of shape [{string.Join(", ", logits.shape)}] for {images.Count} images; " +
                $"expected [{images.Count}, {classes}].");
        }

        float[] values = logits.to(torch.ScalarType.Float32).cpu().contiguous().data<float>().ToArray(); // [B, C]
        for (int row = 0; row < images.Count; row++)
        {
            Softmax(values.AsSpan(row * classes, classes), probabilities.AsSpan(row * classes, classes));
        }

        return images.Count;
    }

    /// <summary>The predicted key (1-based index of the largest probability), or 0 (missing) when all are
    /// NaN.</summary>
    internal static uint PredictedKey(ReadOnlySpan<float> probabilities)
    {
        int best = -1;
        for (int i = 0; i < probabilities.Length; i++)
        {
            if (!float.IsNaN(probabilities[i]) && (best < 0 || probabilities[i] > probabilities[best]))
            {
                best = i;
            }
        }

        return (uint)(best + 1);
    }

    // In double, so the result does not depend on batch layout or vector width.
    private static void Softmax(ReadOnlySpan<float> logits, Span<float> probabilities)
    {
        double max = double.NegativeInfinity;
        foreach (float v in logits)
        {
            max = Math.Max(max, v);
        }

        double sum = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            sum += Math.Exp(logits[i] - max);
        }

        for (int i = 0; i < logits.Length; i++)
        {
            probabilities[i] = (float)(Math.Exp(logits[i] - max) / sum);
        }
    }
}

/// <summary>The core bound to one input schema: the resolved image column and the output schema.</summary>
internal sealed record ImageScoringBinding(DataViewSchema InputSchema, DataViewSchema OutputSchema, ImageColumn Image)
{
    /// <summary>Output index of the score column (right after the input columns).</summary>
    public int ScoreIndex => InputSchema.Count;

    /// <summary>Output index of the predicted-label column.</summary>
    public int PredictedLabelIndex => InputSchema.Count + 1;
}
