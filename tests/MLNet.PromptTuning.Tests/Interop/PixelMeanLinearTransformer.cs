using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNet.PromptTuning.Interop;
using MLNet.PromptTuning.Tests.Interop;
using TorchSharp;

[assembly: LoadableClass(typeof(PixelMeanLinearTransformer), typeof(PixelMeanLinearTransformerLoader), null,
    typeof(SignatureLoadModel), "Pixel-mean linear classifier", PixelMeanLinearTransformer.LoaderSignature)]

namespace MLNet.PromptTuning.Tests.Interop;

/// <summary>
/// A deliberately trivial image classifier (a fixed linear map over per-channel mean pixel values) built on
/// <see cref="ImageScoringCore"/>. It exists only in the tests, so the ML.NET contract (output schema, Evaluate,
/// PredictionEngine, Save/Load in a fresh process) is tested without a Vision Transformer; it follows the same template
/// as <c>PromptViTTransformer</c>: hold a core, forward the <see cref="ITransformer"/> members to it, save the core's
/// part then the model's streams, and load through a loader class. Its model header names this test assembly as the
/// loader's, so a fresh process finds it the way it finds the library.
/// </summary>
internal sealed class PixelMeanLinearTransformer : ITransformer, IDisposable
{
    /// <summary>The loadable-class name written into each saved model header.</summary>
    internal const string LoaderSignature = "PixelMeanLinearXf";

    internal static readonly ModelFormat Format = new(
        ModelSignature: "PXMEANLN",
        LoaderSignature: LoaderSignature,
        VersionWritten: 0x00010001,
        VersionReadable: 0x00010001,
        VersionWeCanReadBack: 0x00010001,
        LoaderAssembly: typeof(PixelMeanLinearTransformer).Assembly);

    private const string WeightsStream = "Weights.bin";

    private readonly IHostEnvironment _environment;
    private readonly PixelMeanLinearScorer _scorer;

    /// <summary>Creates the transformer.</summary>
    /// <param name="environment">The MLContext.</param>
    /// <param name="settings">Columns, batch size and image conversion.</param>
    /// <param name="classes">The classes.</param>
    /// <param name="weights">Row-major [classes, channels]: logit k = Σ_c weights[k, c] · mean_c + bias[k], with
    /// means of pixels as stored (uint8 images divided by 255).</param>
    /// <param name="bias">[classes].</param>
    public PixelMeanLinearTransformer(IHostEnvironment environment, ImageScoringSettings settings, ClassLabels classes,
        float[] weights, float[] bias)
    {
        _environment = environment;
        _scorer = new PixelMeanLinearScorer(classes.Count, settings.Image.Channels, weights, bias);
        Core = new ImageScoringCore(environment, settings, classes, _scorer);
    }

    /// <summary>The scoring core.</summary>
    internal ImageScoringCore Core { get; }

    /// <inheritdoc />
    public bool IsRowToRowMapper => Core.IsRowToRowMapper;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => Core.GetOutputSchema(inputSchema);

    /// <inheritdoc />
    public IDataView Transform(IDataView input) => Core.Transform(input);

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => Core.GetRowToRowMapper(inputSchema);

    /// <summary>Nothing native to release; present because real scorers own TorchSharp modules.</summary>
    public void Dispose()
    {
    }

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        ModelWriter writer = ModelWriter.Begin(ctx, Format, _environment);
        Core.Save(writer);
        writer.WriteBinaryStream(WeightsStream, w =>
        {
            w.Write(_scorer.Weights.Length);
            foreach (float v in _scorer.Weights)
            {
                w.Write(v);
            }

            w.Write(_scorer.Bias.Length);
            foreach (float v in _scorer.Bias)
            {
                w.Write(v);
            }
        });
    }

    internal static PixelMeanLinearTransformer Load(IHostEnvironment environment, ModelReader reader)
    {
        (ImageScoringSettings settings, ClassLabels classes) = ImageScoringCore.LoadParts(reader);
        float[] weights = Array.Empty<float>();
        float[] bias = Array.Empty<float>();
        reader.ReadBinaryStream(WeightsStream, r =>
        {
            weights = ReadFloats(r);
            bias = ReadFloats(r);
        });
        return new PixelMeanLinearTransformer(environment, settings, classes, weights, bias);
    }

    private static float[] ReadFloats(BinaryReader r)
    {
        int count = r.ReadInt32();
        if (count < 0)
        {
            throw new InvalidDataException($"Negative array length {count} in the model.");
        }

        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = r.ReadSingle();
        }

        return values;
    }
}

/// <summary>Where ML.NET's component catalog finds <c>Create(IHostEnvironment, ModelLoadContext)</c> for the
/// probe.</summary>
internal static class PixelMeanLinearTransformerLoader
{
    // Found by reflection through [assembly: LoadableClass]; the loader type may differ from the instance type, so
    // public transformers outside Interop/ can keep their loaders here.
    private static PixelMeanLinearTransformer Create(IHostEnvironment env, ModelLoadContext ctx) =>
        PixelMeanLinearTransformer.Load(env,
            ModelReader.Begin(ctx, PixelMeanLinearTransformer.Format, env));
}

/// <summary>Logits from per-channel pixel means; each row is computed alone, so batch and row scoring agree bit for
/// bit.</summary>
internal sealed class PixelMeanLinearScorer : IImageBatchScorer
{
    private readonly int _classes;
    private readonly int _channels;

    public PixelMeanLinearScorer(int classes, int channels, float[] weights, float[] bias)
    {
        if (weights.Length != classes * channels || bias.Length != classes)
        {
            throw new ArgumentException(
                $"Expected {classes}x{channels} weights and {classes} biases; got {weights.Length} and {bias.Length}.");
        }

        _classes = classes;
        _channels = channels;
        Weights = weights;
        Bias = bias;
    }

    public float[] Weights { get; }

    public float[] Bias { get; }

    /// <summary>Number of scorer calls so far (tests check batching with it).</summary>
    public int Calls { get; private set; }

    public torch.Tensor ScoreBatch(IReadOnlyList<torch.Tensor> images)
    {
        Calls++;
        var logits = new float[images.Count * _classes];
        for (int b = 0; b < images.Count; b++)
        {
            torch.Tensor image = images[b]; // [C, H, W]
            torch.Tensor pixels = image.dtype == torch.ScalarType.Byte
                ? image.to(torch.ScalarType.Float32) / 255f
                : image.to(torch.ScalarType.Float32);
            float[] means = pixels.mean(new long[] { 1, 2 }).data<float>().ToArray(); // [C]
            for (int k = 0; k < _classes; k++)
            {
                double sum = Bias[k];
                for (int c = 0; c < _channels; c++)
                {
                    sum += (double)Weights[k * _channels + c] * means[c];
                }

                logits[b * _classes + k] = (float)sum;
            }
        }

        return torch.tensor(logits, new long[] { images.Count, _classes });
    }
}
