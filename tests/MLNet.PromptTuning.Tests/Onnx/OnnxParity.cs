using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Interop;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Tests.Interop;
using TorchSharp;

namespace MLNet.PromptTuning.Tests.Onnx;

/// <summary>One image as the ONNX model's input: channel-planar pixel values in a known-size vector.</summary>
public sealed class PixelRow
{
    /// <summary>The pixels; the column type (channels, height, width) comes from the schema definition.</summary>
    public float[] Image { get; set; } = Array.Empty<float>();
}

/// <summary>One image as bytes, for the uint8 input contract.</summary>
public sealed class BytePixelRow
{
    /// <summary>The pixels.</summary>
    public byte[] Image { get; set; } = Array.Empty<byte>();
}

/// <summary>Scores of one model three ways: the library's own <c>Transform</c>, ONNX Runtime and
/// <c>ApplyOnnxModel</c>.</summary>
internal sealed record ParityResult(
    float[][] Library,
    float[][] OnnxRuntime,
    float[][] ApplyOnnxModel,
    uint[] LibraryKeys,
    uint[] OnnxKeys,
    byte[] Model)
{
    public float MaxDiffOnnxRuntime => MaxDiff(Library, OnnxRuntime);

    public float MaxDiffApplyOnnxModel => MaxDiff(Library, ApplyOnnxModel);

    private static float MaxDiff(float[][] a, float[][] b) =>
        a.Zip(b, (x, y) => x.Zip(y, (u, v) => Math.Abs(u - v)).Max()).Max();
}

/// <summary>
/// Builds prompt-tuned transformers on the embedded backbone with visibly non-trivial weights, reads the embedded
/// Fashion-MNIST test PNGs as pixel vectors, exports with <c>mlContext.Model.ConvertToOnnx</c> and scores the file in
/// ONNX Runtime and in ML.NET's <c>ApplyOnnxModel</c>.
/// </summary>
internal static class OnnxParity
{
    public const float Tolerance = 1e-4f;

    public static string Assets => Path.Combine(AppContext.BaseDirectory, "EmbeddedAssets");

    public static string EmbeddedBackbonePath => Path.Combine(Assets, "backbone", "model.safetensors");

    /// <summary>
    /// The first <paramref name="perClass"/> test images of each unseen class, as 8-bit gray planes [1, 28, 28].
    /// </summary>
    public static List<byte[]> RealImages(int perClass)
    {
        string root = Path.Combine(Assets, "fashion-mnist-unseen", "test");
        var images = new List<byte[]>();
        foreach (string folder in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
        {
            foreach (string file in Directory.GetFiles(folder, "*.png").Order(StringComparer.Ordinal).Take(perClass))
            {
                using MLImage image = MLImage.CreateFromFile(file);
                images.Add(MLImagePlanes.ToPlanar(image, 1, p => new InvalidDataException($"{file} {p}")));
            }
        }

        return images;
    }

    /// <summary>
    /// A transformer on <paramref name="backbone"/> whose method and head tensors are moved well away from their
    /// initial values (seeded), so that every mechanism of the method changes the scores.
    /// </summary>
    public static PromptViTTransformer CreateTransformer(MLContext ml, VisionTransformer backbone,
        PromptMethodOptions options, int classes = 5, int seed = 5, int batchSize = 4, float pixelValueScale = 1f / 255)
    {
        torch.manual_seed(seed);
        var model = new PromptedVisionTransformer(backbone, options, classes, ownsBackbone: false);
        using (torch.no_grad())
        {
            var trained = model.named_parameters()
                .Where(p => !p.name.StartsWith("backbone.", StringComparison.Ordinal));
            foreach (var (_, parameter) in trained)
            {
                parameter.add_(torch.randn_like(parameter) * 0.3);
            }
        }

        var settings = new ImageScoringSettings("Image", "Score", "PredictedLabel", batchSize,
            new ImageInputSpec(backbone.Config.InChannels));
        var labels = ClassLabels.FromValues(TextDataViewType.Instance,
            Enumerable.Range(0, classes).Select(i => $"class{i}".AsMemory()).ToArray());
        return new PromptViTTransformer(ml, model, settings, labels, pixelValueScale, "test", torch.CPU);
    }

    /// <summary>A data view of float pixel rows whose image column is Vector&lt;Single, C, H, W&gt;.</summary>
    public static IDataView FloatPixels(MLContext ml, IReadOnlyList<float[]> images, int channels, int height,
        int width)
    {
        var schema = SchemaDefinition.Create(typeof(PixelRow));
        schema[nameof(PixelRow.Image)].ColumnType =
            new VectorDataViewType(NumberDataViewType.Single, channels, height, width);
        return ml.Data.LoadFromEnumerable(images.Select(p => new PixelRow { Image = p }).ToArray(), schema);
    }

    /// <summary>A data view of byte pixel rows whose image column is Vector&lt;Byte, C, H, W&gt;.</summary>
    public static IDataView BytePixels(MLContext ml, IReadOnlyList<byte[]> images, int channels, int height, int width)
    {
        var schema = SchemaDefinition.Create(typeof(BytePixelRow));
        schema[nameof(BytePixelRow.Image)].ColumnType =
            new VectorDataViewType(NumberDataViewType.Byte, channels, height, width);
        return ml.Data.LoadFromEnumerable(images.Select(p => new BytePixelRow { Image = p }).ToArray(), schema);
    }

    /// <summary>Exports <paramref name="model"/> on <paramref name="data"/> and scores it three ways.</summary>
    public static ParityResult Run(MLContext ml, ITransformer model, IDataView data, string folder,
        int? opsetVersion = null)
    {
        byte[] onnx = Export(ml, model, data, opsetVersion);
        IDataView scored = model.Transform(data);
        float[][] library = ScoreReading.ReadVectors(scored, "Score").ToArray();
        uint[] libraryKeys = ReadKeys(scored, "PredictedLabel");

        var (ortScores, ortKeys) = RunOnnxRuntime(onnx, data);
        string path = Path.Combine(folder, $"model-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, onnx);
        float[][] applied;
        using (var applier = ml.Transforms.ApplyOnnxModel(new[] { "Score.output" }, new[] { "Image" }, path).Fit(data))
        {
            // ML.NET's ONNX scorer names the column after the exported column, without the ".output" suffix.
            applied = ScoreReading.ReadVectors(applier.Transform(data), "Score").ToArray();
        }

        return new ParityResult(library, ortScores, applied, libraryKeys, ortKeys, onnx);
    }

    public static byte[] Export(MLContext ml, ITransformer model, IDataView data, int? opsetVersion = null)
    {
        using var stream = new MemoryStream();
        if (opsetVersion is { } opset)
        {
            ml.Model.ConvertToOnnx(model, data, opset, stream);
        }
        else
        {
            ml.Model.ConvertToOnnx(model, data, stream);
        }

        return stream.ToArray();
    }

    /// <summary>Runs the whole data view as one batch in ONNX Runtime (2 intra-op threads).</summary>
    public static (float[][] Scores, uint[] Keys) RunOnnxRuntime(byte[] onnx, IDataView data)
    {
        var column = data.Schema["Image"];
        var type = (VectorDataViewType)column.Type;
        int size = type.Size;
        var rows = new List<float[]>();
        using (var cursor = data.GetRowCursor(new[] { column }))
        {
            bool bytes = type.ItemType == NumberDataViewType.Byte;
            var floatGetter = bytes ? null : cursor.GetGetter<VBuffer<float>>(column);
            var byteGetter = bytes ? cursor.GetGetter<VBuffer<byte>>(column) : null;
            VBuffer<float> f = default;
            VBuffer<byte> b = default;
            while (cursor.MoveNext())
            {
                if (bytes)
                {
                    byteGetter!(ref b);
                    rows.Add(b.DenseValues().Select(v => (float)v).ToArray());
                }
                else
                {
                    floatGetter!(ref f);
                    rows.Add(f.DenseValues().ToArray());
                }
            }
        }

        int[] dims = new[] { rows.Count }.Concat(type.Dimensions.ToArray()).ToArray();
        using var options = new SessionOptions { IntraOpNumThreads = 2, InterOpNumThreads = 1 };
        using var session = new InferenceSession(onnx, options);
        NamedOnnxValue input = type.ItemType == NumberDataViewType.Byte
            ? NamedOnnxValue.CreateFromTensor("Image",
                new DenseTensor<byte>(rows.SelectMany(r => r.Select(v => (byte)v)).ToArray(), dims))
            : NamedOnnxValue.CreateFromTensor("Image", new DenseTensor<float>(rows.SelectMany(r => r).ToArray(), dims));
        using var results = session.Run(new[] { input }, new[] { "Score.output", "PredictedLabel.output" });
        var scores = results.First(r => r.Name == "Score.output").AsTensor<float>();
        var keys = results.First(r => r.Name == "PredictedLabel.output").AsTensor<uint>();
        int classes = (int)(scores.Length / rows.Count);
        var byRow = Enumerable.Range(0, rows.Count)
            .Select(i => Enumerable.Range(0, classes).Select(c => scores[i, c]).ToArray()).ToArray();
        return (byRow, Enumerable.Range(0, rows.Count).Select(i => keys[i, 0]).ToArray());
    }

    private static uint[] ReadKeys(IDataView data, string column)
    {
        var keys = new List<uint>();
        var col = data.Schema[column];
        using var cursor = data.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<uint>(col);
        uint key = 0;
        while (cursor.MoveNext())
        {
            getter(ref key);
            keys.Add(key);
        }

        return keys.ToArray();
    }
}
