using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Methods.Cvpt;
using MLNet.PromptTuning.Methods.LinearProbe;
using MLNet.PromptTuning.Methods.Lspt;
using MLNet.PromptTuning.Methods.Sep;
using MLNet.PromptTuning.Methods.Tcpa;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Tests.Extensibility;
using MLNet.PromptTuning.Tests.Methods;
using MLNet.PromptTuning.Training;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace MLNet.PromptTuning.Tests.Onnx;

/// <summary>
/// The ONNX input contract (pixel vectors of any fixed size, gray or RGB, float or bytes), trained pipelines (bf16
/// included, with key mappings), the opset range, and every refusal: each names what cannot be exported.
/// </summary>
public sealed class OnnxExportContractTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly string _folder = Directory.CreateTempSubdirectory("onnx-contract-").FullName;

    public OnnxExportContractTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>Real images, resized (PIL-equivalent) to <paramref name="height"/>×<paramref name="width"/> and, for
    /// three channels, given distinct colour planes.</summary>
    private static List<byte[]> Images(int channels, int height, int width)
    {
        var result = new List<byte[]>();
        foreach (byte[] gray in OnnxParity.RealImages(perClass: 1))
        {
            using var scope = torch.NewDisposeScope();
            var x = torch.tensor(gray.Select(b => (float)b).ToArray(), new long[] { 1, 1, 28, 28 });
            var resized = ImagePreprocessor.Resize(x, height, width);                            // [1, 1, h, w]
            var planes = channels == 1 ? resized : torch.cat(new[] { resized, resized.flip(3), 255 - resized }, 1);
            result.Add(planes.to(torch.ScalarType.Byte).contiguous().data<byte>().ToArray());
        }

        return result;
    }

    [Theory]
    [InlineData("float", 1, 35, 41)] // smaller in both directions: antialiased down-sampling
    [InlineData("float", 1, 20, 24)] // larger: up-sampling
    [InlineData("float", 3, 28, 28)] // RGB to the gray backbone: luma
    [InlineData("bytes", 3, 40, 20)] // bytes: fixed-point luma, down one axis and up the other
    [InlineData("bytes", 1, 28, 28)]
    public void EveryPixelInputContractScoresLikeTransform(string kind, int channels, int height, int width)
    {
        var ml = new MLContext(seed: 1);
        using VisionTransformer backbone = BackboneCheckpoint.LoadBackbone(OnnxParity.EmbeddedBackbonePath);
        using var model = OnnxParity.CreateTransformer(ml, backbone, new LinearProbeOptions());
        var images = Images(channels, height, width);
        IDataView data = kind == "bytes"
            ? OnnxParity.BytePixels(ml, images, channels, height, width)
            : OnnxParity.FloatPixels(ml, images.Select(p => p.Select(b => (float)b).ToArray()).ToList(),
                channels, height, width);

        var result = OnnxParity.Run(ml, model, data, _folder);

        _output.WriteLine($"{kind} {channels}x{height}x{width}: " +
                          $"max |Δ| ONNX Runtime {result.MaxDiffOnnxRuntime:E2}, " +
                          $"ApplyOnnxModel {result.MaxDiffApplyOnnxModel:E2}");
        Assert.InRange(result.MaxDiffOnnxRuntime, 0f, OnnxParity.Tolerance);
        Assert.InRange(result.MaxDiffApplyOnnxModel, 0f, OnnxParity.Tolerance);
        Assert.Equal(result.LibraryKeys, result.OnnxKeys);
    }

    /// <summary>
    /// An MAE-like backbone (average pooling with <c>fc_norm</c>, no qkv bias, RGB) exercises the export paths the
    /// embedded backbone does not: prompts read by the average pooling, and cross-attention and extra keys/values
    /// without a qkv bias.
    /// </summary>
    [Theory]
    [InlineData("linear")]
    [InlineData("vpt-prompt-and-patch-mean")]
    [InlineData("cvpt")]
    [InlineData("tcpa")]
    [InlineData("tcpa-role")]
    [InlineData("tcpa-none")]
    [InlineData("lspt-after-last-block")]
    public void AveragePooledBackboneWithoutQkvBiasExports(string methodCase)
    {
        var ml = new MLContext(seed: 1);
        torch.manual_seed(3);
        var config = TinyModels.Config(depth: 2) with
        {
            GlobalPooling = GlobalPooling.Average,
            UseFcNorm = true,
            QkvBias = false,
        };
        using var backbone = new VisionTransformer(config);
        using (torch.no_grad())
        {
            foreach (var (name, parameter) in backbone.named_parameters().Where(p => !p.name.Contains("norm")))
            {
                parameter.normal_(0, name.EndsWith("bias", StringComparison.Ordinal) ? 0.1 : 0.3);
            }
        }

        PromptMethodOptions options = methodCase switch
        {
            "linear" => new LinearProbeOptions(),
            "vpt-prompt-and-patch-mean" => new VptOptions { PromptLength = 3, Pooling = VptPooling.PromptAndPatchMean },
            "cvpt" => new CvptOptions { PromptLength = 3 },
            "tcpa" => MethodCases.Create("tcpa"),
            "tcpa-role" => new TcpaOptions { ClassPoolSize = 3, ImagePoolSize = 4, ClassTopK = 2, ImageTopK = 2,
                Coordination = TcpaCoordination.Role },
            "tcpa-none" => new TcpaOptions { ClassPoolSize = 3, ImagePoolSize = 4, ClassTopK = 2, ImageTopK = 2,
                Coordination = TcpaCoordination.None },
            _ => new LsptOptions { PromptLength = 3, GateCount = 2 },
        };
        using var model = OnnxParity.CreateTransformer(ml, backbone, options, classes: 4);
        var random = new Random(4);
        var images = Enumerable.Range(0, 6)
            .Select(_ => Enumerable.Range(0, 3 * 16 * 16).Select(_ => (float)random.Next(256)).ToArray()).ToList();

        var result = OnnxParity.Run(ml, model, OnnxParity.FloatPixels(ml, images, 3, 16, 16), _folder);

        _output.WriteLine($"{methodCase}: max |Δ| ONNX Runtime {result.MaxDiffOnnxRuntime:E2}, " +
                          $"ApplyOnnxModel {result.MaxDiffApplyOnnxModel:E2}");
        Assert.InRange(result.MaxDiffOnnxRuntime, 0f, OnnxParity.Tolerance);
        Assert.InRange(result.MaxDiffApplyOnnxModel, 0f, OnnxParity.Tolerance);
    }

    [Fact]
    public void PixelValueScaleIsAppliedInTheGraph()
    {
        var ml = new MLContext(seed: 1);
        using VisionTransformer backbone = BackboneCheckpoint.LoadBackbone(OnnxParity.EmbeddedBackbonePath);
        using var model = OnnxParity.CreateTransformer(ml, backbone, new LinearProbeOptions(), pixelValueScale: 1f);
        var images = Images(1, 28, 28).Select(p => p.Select(b => b / 255f).ToArray()).ToList();   // pixels in [0, 1]

        var result = OnnxParity.Run(ml, model, OnnxParity.FloatPixels(ml, images, 1, 28, 28), _folder);

        Assert.InRange(result.MaxDiffOnnxRuntime, 0f, OnnxParity.Tolerance);
        Assert.InRange(result.MaxDiffApplyOnnxModel, 0f, OnnxParity.Tolerance);
    }

    [Fact]
    public void TrainedPipelineWithKeyMappingsExportsWholeAndPredictsTheSameClassNames()
    {
        var ml = new MLContext(seed: 1);
        var rows = LabeledPixelRows();
        IDataView data = LabeledData(ml, rows);
        var options = TrainingOptions("vpt", TrainingPrecision.Float32);
        using var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.PromptViT(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Fit(data);
        string[] expected = ReadStrings(pipeline.Transform(data), "PredictedLabel");

        byte[] onnx = OnnxParity.Export(ml, pipeline, data);
        using var session = new InferenceSession(onnx);
        var inputs = new[]
        {
            NamedOnnxValue.CreateFromTensor("Label",
                new DenseTensor<string>(rows.Select(r => r.Label).ToArray(), new[] { rows.Length, 1 })),
            NamedOnnxValue.CreateFromTensor("Image",
                new DenseTensor<float>(rows.SelectMany(r => r.Image).ToArray(), new[] { rows.Length, 1, 28, 28 })),
        };
        using var results = session.Run(inputs, new[] { "PredictedLabel.output" });
        string[] predicted = results[0].AsTensor<string>().ToArray();

        Assert.Equal(expected, predicted);
        Assert.True(expected.Distinct().Count() > 1, "The trained model should not predict one class for every image.");
    }

    [Fact]
    public void BFloat16TrainedModelExportsInFloat32()
    {
        var ml = new MLContext(seed: 1);
        var rows = LabeledPixelRows();
        IDataView data = LabeledData(ml, rows);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        using var model = ml.MulticlassClassification.Trainers
            .PromptViT(TrainingOptions("vpt", TrainingPrecision.BFloat16))
            .Fit(keyed);
        Assert.Equal(torch.ScalarType.BFloat16, model.Model.ComputePrecision);
        var pixels = OnnxParity.FloatPixels(ml, rows.Select(r => r.Image).ToList(), 1, 28, 28);
        var bf16Scores = Interop.ScoreReading.ReadVectors(model.Transform(pixels), "Score");

        byte[] onnx = OnnxParity.Export(ml, model, pixels);
        var (onnxScores, _) = OnnxParity.RunOnnxRuntime(onnx, pixels);

        // The file computes in float32 with the bf16-trained weights: its reference is the model back in float32.
        model.Model.SetComputePrecision(torch.ScalarType.Float32);
        var float32Scores = Interop.ScoreReading.ReadVectors(model.Transform(pixels), "Score");
        float toFloat32 = MaxDiff(float32Scores, onnxScores);
        float toBFloat16 = MaxDiff(bf16Scores, onnxScores);
        _output.WriteLine($"bf16-trained: max |Δ| to float32 Transform {toFloat32:E2}, " +
                          $"to bf16 Transform {toBFloat16:E2}");
        Assert.InRange(toFloat32, 0f, OnnxParity.Tolerance);
        Assert.True(toBFloat16 > toFloat32, "bf16 scoring should be further from the float32 export than float32 is.");
    }

    [Fact]
    public void OpsetElevenExportsAndOlderOpsetsAreRefused()
    {
        var ml = new MLContext(seed: 1);
        using VisionTransformer backbone = BackboneCheckpoint.LoadBackbone(OnnxParity.EmbeddedBackbonePath);
        using var model = OnnxParity.CreateTransformer(ml, backbone, MethodCases.Create("tcpa"));
        var images = Images(1, 28, 28).Select(p => p.Select(b => (float)b).ToArray()).ToList();
        var data = OnnxParity.FloatPixels(ml, images, 1, 28, 28);

        var result = OnnxParity.Run(ml, model, data, _folder, opsetVersion: 11);
        Assert.InRange(result.MaxDiffOnnxRuntime, 0f, OnnxParity.Tolerance);

        var error = Assert.ThrowsAny<ArgumentException>(() => OnnxParity.Export(ml, model, data, opsetVersion: 10));
        Assert.Contains("11", error.Message);
        Assert.Contains(nameof(PromptViTTransformer), error.Message);
    }

    [Fact]
    public void FrozenCvptSharesTheBackbonesAttentionWeightsInTheFile()
    {
        var ml = new MLContext(seed: 1);
        using VisionTransformer backbone = BackboneCheckpoint.LoadBackbone(OnnxParity.EmbeddedBackbonePath);
        var data = OnnxParity.FloatPixels(ml, new List<float[]> { new float[28 * 28] }, 1, 28, 28);
        long Size(PromptMethodOptions options)
        {
            using var model = OnnxParity.CreateTransformer(ml, backbone, options);
            return OnnxParity.Export(ml, model, data).LongLength;
        }

        long linear = Size(new LinearProbeOptions());
        long frozen = Size(new CvptOptions { PromptLength = 4 });
        long learnable = Size(new CvptOptions { PromptLength = 4, TrainCrossAttention = true });
        long attentionWeights = 6L * (4 * 128 * 128 + 4 * 128) * 4;                               // 6 blocks, float32

        Assert.InRange(frozen - linear, 6L * 4 * 128 * 4, attentionWeights / 10);                 // prompts, no copy
        Assert.InRange(learnable - linear, attentionWeights, attentionWeights + attentionWeights / 10);
    }

    [Theory]
    [InlineData("LoadImages")]
    [InlineData("LoadRawImageBytes")]
    public void ImageLoadingInThePipelineIsRefusedWithTheSupportedInput(string loader)
    {
        var ml = new MLContext(seed: 1);
        using VisionTransformer backbone = BackboneCheckpoint.LoadBackbone(OnnxParity.EmbeddedBackbonePath);
        using var model = OnnxParity.CreateTransformer(ml, backbone, new LinearProbeOptions());
        string folder = Path.Combine(OnnxParity.Assets, "fashion-mnist-unseen", "test", "Bag");
        var paths = ml.Data.LoadFromEnumerable(Directory.GetFiles(folder, "*.png").Take(2)
            .Select(f => new PathRow { Path = Path.GetFileName(f) }));
        ITransformer load = loader == "LoadImages"
            ? ml.Transforms.LoadImages("Image", folder, "Path").Fit(paths)
            : ml.Transforms.LoadRawImageBytes("Image", folder, "Path").Fit(paths);
        var chain = new TransformerChain<ITransformer>(load, model);

        var error = Assert.Throws<NotSupportedException>(() => OnnxParity.Export(ml, chain, paths));

        Assert.Contains("'Image'", error.Message);
        Assert.Contains("Vector<Single, C, H, W>", error.Message);
        Assert.Contains(loader, error.Message);
    }

    [Fact]
    public void BatchCoupledSepIsRefusedNamingTheSettings()
    {
        var ml = new MLContext(seed: 1);
        using VisionTransformer backbone = BackboneCheckpoint.LoadBackbone(OnnxParity.EmbeddedBackbonePath);
        using var model = OnnxParity.CreateTransformer(ml, backbone, MethodCases.Create("sep-official"));
        var data = OnnxParity.FloatPixels(ml, new List<float[]> { new float[28 * 28] }, 1, 28, 28);

        var error = Assert.Throws<NotSupportedException>(() => OnnxParity.Export(ml, model, data));

        Assert.Contains("FusionAxis = Batch", error.Message);
        Assert.Contains("TokenSelection = BatchPooled", error.Message);
    }

    [Fact]
    public void MethodWithoutAnOnnxExportIsRefusedByName()
    {
        var ml = new MLContext(seed: 1);
        using VisionTransformer backbone = BackboneCheckpoint.LoadBackbone(OnnxParity.EmbeddedBackbonePath);
        // The sixth method of the test assembly (Extensibility/SixthMethodTests.cs) has no ONNX export.
        var prompted = new PromptedVisionTransformer(backbone, new ShiftOptions(), 3);
        var settings = new PromptTuning.Interop.ImageScoringSettings(
            "Image", "Score", "PredictedLabel", 4, new ImageInputSpec(1));
        using var model = new PromptViTTransformer(ml, prompted, settings,
            PromptTuning.Interop.ClassLabels.WithoutValues(3), 1f / 255, "test", torch.CPU);
        var data = OnnxParity.FloatPixels(ml, new List<float[]> { new float[28 * 28] }, 1, 28, 28);

        var error = Assert.Throws<NotSupportedException>(() => OnnxParity.Export(ml, model, data));

        Assert.Contains($"'{ShiftOptions.Id}'", error.Message);
        Assert.Contains(nameof(ShiftMethod), error.Message);
        Assert.Contains("IOnnxExportablePromptMethod", error.Message);
    }

    [Fact]
    public void TheDocumentedDeployPathRunsAsWritten()
    {
        var mlContext = new MLContext(seed: 1);
        using VisionTransformer backbone = BackboneCheckpoint.LoadBackbone(OnnxParity.EmbeddedBackbonePath);
        using var promptVit = OnnxParity.CreateTransformer(mlContext, backbone, new VptOptions { PromptLength = 4 });
        string path = Path.Combine(_folder, "model.onnx");

        // docs/onnx.md, "The deploy path": an empty data view fixes the input's schema; only the two outputs are kept.
        var input = mlContext.Data.LoadFromEnumerable(Array.Empty<OnnxInput>());
        using (var file = File.Create(path))
        {
            mlContext.Model.ConvertToOnnx(promptVit, input, file, "Score", "PredictedLabel");
        }

        using var session = new InferenceSession(path);

        Assert.Equal(new[] { "Image" }, session.InputMetadata.Keys);
        Assert.Equal(new[] { -1, 1, 28, 28 }, session.InputMetadata["Image"].Dimensions);
        Assert.Equal(typeof(float), session.InputMetadata["Image"].ElementType);
        Assert.Contains("Score.output", session.OutputMetadata.Keys);
        Assert.Contains("PredictedLabel.output", session.OutputMetadata.Keys);
        Assert.DoesNotContain("Image.output", session.OutputMetadata.Keys);
        var images = OnnxParity.RealImages(perClass: 1).Select(p => p.Select(b => (float)b).ToArray()).ToList();
        var pixels = OnnxParity.FloatPixels(mlContext, images, 1, 28, 28);
        var (scores, _) = OnnxParity.RunOnnxRuntime(File.ReadAllBytes(path), pixels);
        var expected = Interop.ScoreReading.ReadVectors(promptVit.Transform(pixels), "Score");
        Assert.InRange(MaxDiff(expected, scores), 0f, OnnxParity.Tolerance);
    }

    private static LabeledPixelRow[] LabeledPixelRows()
    {
        string root = Path.Combine(OnnxParity.Assets, "fashion-mnist-unseen", "test");
        return Directory.GetDirectories(root).Order(StringComparer.Ordinal).Take(3)
            .SelectMany(folder => Directory.GetFiles(folder, "*.png").Order(StringComparer.Ordinal).Take(4)
                .Select(file =>
                {
                    using MLImage image = MLImage.CreateFromFile(file);
                    byte[] gray = MLImagePlanes.ToPlanar(image, 1, p => new InvalidDataException(p));
                    return new LabeledPixelRow
                    {
                        Label = Path.GetFileName(folder),
                        Image = gray.Select(b => (float)b).ToArray(),
                    };
                }))
            .ToArray();
    }

    private static IDataView LabeledData(MLContext ml, LabeledPixelRow[] rows)
    {
        var schema = SchemaDefinition.Create(typeof(LabeledPixelRow));
        schema[nameof(LabeledPixelRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, 28, 28);
        return ml.Data.LoadFromEnumerable(rows, schema);
    }

    private static PromptViTTrainer.Options TrainingOptions(string method, TrainingPrecision precision) => new()
    {
        BackbonePath = OnnxParity.EmbeddedBackbonePath,
        ImageColumnName = "Image",
        Method = method,
        MethodOptions = new VptOptions { PromptLength = 4 },
        MaxEpoch = 2,
        BatchSize = 6,
        LearningRate = 0.01f,
        WarmupEpochs = 0,
        NumberOfThreads = 2,
        Seed = 3,
        Precision = precision,
    };

    private static string[] ReadStrings(IDataView data, string column)
    {
        var values = new List<string>();
        var col = data.Schema[column];
        using var cursor = data.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<ReadOnlyMemory<char>>(col);
        ReadOnlyMemory<char> value = default;
        while (cursor.MoveNext())
        {
            getter(ref value);
            values.Add(value.ToString());
        }

        return values.ToArray();
    }

    private static float MaxDiff(IReadOnlyList<float[]> a, IReadOnlyList<float[]> b) =>
        a.Zip(b, (x, y) => x.Zip(y, (u, v) => Math.Abs(u - v)).Max()).Max();

    /// <summary>A labelled image as pixels.</summary>
    public sealed class LabeledPixelRow
    {
        /// <summary>Class name.</summary>
        public string Label { get; set; } = string.Empty;

        /// <summary>Gray pixels [1, 28, 28].</summary>
        public float[] Image { get; set; } = Array.Empty<float>();
    }

    /// <summary>The ONNX model's input as docs/onnx.md declares it for the embedded 28×28 gray backbone.</summary>
    public sealed class OnnxInput
    {
        /// <summary>Channel-planar pixel values in [0, 255].</summary>
        [VectorType(1, 28, 28)]
        public float[] Image { get; set; } = Array.Empty<float>();
    }

    /// <summary>An image file name.</summary>
    public sealed class PathRow
    {
        /// <summary>File name relative to the folder.</summary>
        public string Path { get; set; } = string.Empty;
    }
}
