using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Transforms.Onnx;
using MLNet.PromptTuning.Backbones;
using TorchSharp;

namespace MLNet.PromptTuning.Samples.Benchmarks;

/// <summary>One image as pixels, the input of both sides.</summary>
public sealed class BenchPixels
{
    /// <summary>Channel-planar bytes.</summary>
    public byte[] Image { get; set; } = Array.Empty<byte>();
}

/// <summary>A labelled image, to fit the model once through the public trainer.</summary>
public sealed class BenchLabeledPixels
{
    /// <summary>Class name.</summary>
    public string Label { get; set; } = string.Empty;

    /// <summary>Channel-planar bytes.</summary>
    public byte[] Image { get; set; } = Array.Empty<byte>();
}

/// <summary>
/// The <c>onnx</c> command: inference speed of ONNX Runtime on the exported model against the library's own
/// scoring of the same model, on the same pixel batches with the same thread count, alternating the two sides for
/// several rounds in one process; plus the file sizes of the ONNX model, the full ML.NET model and the adapter.
/// </summary>
internal static class OnnxSpeed
{
    public static readonly string[] ModeNames = { "linear", "vpt", "tcpa", "cvpt", "lspt", "sep", "full" };

    public sealed record Settings(string[] Models, string[] Modes, int Batch, int Batches, int Threads, int Rounds,
        string? OutPath);

    public static int Run(Settings s)
    {
        var unknown = s.Modes.Except(ModeNames).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException(
                $"Unknown mode(s) {string.Join(", ", unknown)}; expected {string.Join(", ", ModeNames)}.");
        }

        torch.set_num_threads(s.Threads);
        var report = new StringBuilder();
        report.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"ONNX Runtime {typeof(InferenceSession).Assembly.GetName().Version} vs the library's Transform; " +
            $"batch {s.Batch}, " +
            $"{s.Batches} batches per pass, {s.Threads} threads on both sides, {s.Rounds} alternating rounds; " +
            $"load average at start {File.ReadAllText("/proc/loadavg").Trim()}"));
        report.AppendLine();
        report.AppendLine("| model | method | library Transform ms/batch | library forward ms/batch | " +
                          "ONNX Runtime ms/batch | Transform / ONNX Runtime (median, min–max) | " +
                          "forward / ONNX Runtime | " +
                          "ApplyOnnxModel ms/image | ONNX file | model zip | adapter | other CPU % |");
        report.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        Console.WriteLine(report.ToString().TrimEnd());
        foreach (string model in s.Models)
        {
            foreach (string mode in s.Modes)
            {
                string line = Measure(model, mode, s);
                Console.WriteLine(line);
                report.AppendLine(line);
            }
        }

        string tail = $"load average at end {File.ReadAllText("/proc/loadavg").Trim()}";
        Console.WriteLine(tail);
        report.AppendLine().AppendLine(tail);
        if (s.OutPath is not null)
        {
            File.WriteAllText(s.OutPath, report.ToString());
        }

        return 0;
    }

    private static string Measure(string modelName, string mode, Settings s)
    {
        var ml = new MLContext(seed: 1);
        var config = BenchModels.Config(modelName);
        int c = config.InChannels, h = config.ImageHeight, w = config.ImageWidth;
        string folder = Directory.CreateTempSubdirectory("onnx-bench-").FullName;
        try
        {
            torch.manual_seed(0);
            using var backbone = new VisionTransformer(config);
            using var model = Fit(ml, backbone, mode, c, h, w, s.Threads);
            torch.set_num_threads(s.Threads);

            var random = new Random(1);
            var rows = Enumerable.Range(0, s.Batch * s.Batches)
                .Select(_ => new BenchPixels { Image = RandomPixels(random, c * h * w) }).ToArray();
            IDataView data = PixelView(ml, rows, c, h, w);

            string onnxPath = Path.Combine(folder, "model.onnx");
            using (var stream = File.Create(onnxPath))
            {
                ml.Model.ConvertToOnnx(model, data, stream);
            }

            var sizes = Sizes(ml, model, data, backbone, folder, onnxPath);
            using var options = new SessionOptions
            {
                IntraOpNumThreads = s.Threads,
                InterOpNumThreads = 1,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            };
            using var session = new InferenceSession(onnxPath, options);
            var batches = rows.Chunk(s.Batch)
                .Select(b => new DenseTensor<byte>(b.SelectMany(r => r.Image).ToArray(), new[] { b.Length, c, h, w }))
                .ToArray();
            using var applier = ml.Transforms.ApplyOnnxModel(new OnnxOptions
            {
                ModelFile = onnxPath,
                InputColumns = new[] { "Image" },
                OutputColumns = new[] { "Score.output" },
                IntraOpNumThreads = s.Threads,
                InterOpNumThreads = 1,
            }).Fit(data);

            // Warm-up of every path, then alternating rounds.
            using var normalized = Normalized(model, batches);
            LibraryPass(model, data);
            ForwardPass(model, normalized);
            OnnxRuntimePass(session, batches);
            ApplyPass(applier, data);
            var library = new List<double>();
            var forward = new List<double>();
            var onnx = new List<double>();
            var apply = new List<double>();
            var before = ProcessMeter.Sample();
            for (int round = 0; round < s.Rounds; round++)
            {
                library.Add(LibraryPass(model, data) / s.Batches);
                forward.Add(ForwardPass(model, normalized) / s.Batches);
                onnx.Add(OnnxRuntimePass(session, batches) / s.Batches);
                apply.Add(ApplyPass(applier, data) / rows.Length);
            }

            var (foreign, _) = ProcessMeter.Share(before, ProcessMeter.Sample());
            var ratios = library.Zip(onnx, (l, o) => l / o).ToArray();
            var forwardRatios = forward.Zip(onnx, (f, o) => f / o).ToArray();
            return string.Create(CultureInfo.InvariantCulture,
                $"| {BenchModels.Describe(modelName)} | {mode} | {Median(library):F1} | {Median(forward):F1} | " +
                $"{Median(onnx):F1} | {Median(ratios):F2} ({ratios.Min():F2}–{ratios.Max():F2}) | " +
                $"{Median(forwardRatios):F2} | {Median(apply):F2} | " +
                $"{Mb(sizes.Onnx)} | {Mb(sizes.Zip)} | {Mb(sizes.Adapter)} | {foreign:F0} |");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// Fits the method (its default options) for one short epoch on a few random images, through the public trainer.
    /// Speed does not depend on the weights.
    /// </summary>
    private static PromptViTTransformer Fit(MLContext ml, VisionTransformer backbone, string mode, int c, int h, int w,
        int threads)
    {
        var random = new Random(2);
        var rows = Enumerable.Range(0, BenchModels.Classes)
            .Select(i => new BenchLabeledPixels { Label = $"c{i}", Image = RandomPixels(random, c * h * w) }).ToArray();
        var schema = SchemaDefinition.Create(typeof(BenchLabeledPixels));
        schema[nameof(BenchLabeledPixels.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Byte, c, h, w);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows, schema))
            .Transform(ml.Data.LoadFromEnumerable(rows, schema));
        var options = new PromptViTTrainer.Options
        {
            Backbone = backbone,
            Method = mode,
            MaxEpoch = 1,
            BatchSize = rows.Length,
            WarmupEpochs = 0,
            NumberOfThreads = threads,
            Seed = 1,
        };
        return ml.MulticlassClassification.Trainers.PromptViT(options).Fit(keyed);
    }

    private static double LibraryPass(PromptViTTransformer model, IDataView data) => ScorePass(model, data);

    /// <summary>Reads every row's <c>Score</c> (the column name both transformers give the probabilities).</summary>
    private static double ScorePass(ITransformer scorer, IDataView data)
    {
        var clock = Stopwatch.StartNew();
        var scored = scorer.Transform(data);
        var column = scored.Schema["Score"];
        using var cursor = scored.GetRowCursor(new[] { column });
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        VBuffer<float> value = default;
        while (cursor.MoveNext())
        {
            getter(ref value);
        }

        return clock.Elapsed.TotalMilliseconds;
    }

    /// <summary>The batches preprocessed once by the library (resize and normalisation), for the forward-only
    /// timing.</summary>
    private static torch.Tensor Normalized(PromptViTTransformer model, DenseTensor<byte>[] batches)
    {
        using var preprocessor = new MLNet.PromptTuning.Data.ImagePreprocessor(model.Model.Preprocessing);
        using var scope = torch.NewDisposeScope();
        var all = batches.Select(b => preprocessor.Process(
            torch.tensor(b.ToArray(), b.Dimensions.ToArray().Select(d => (long)d).ToArray()), torch.CPU)).ToArray();
        return torch.stack(all).MoveToOuterDisposeScope();                                     // [batches, B, C, H, W]
    }

    /// <summary>The model's forward pass alone (PromptedVisionTransformer.Predict) on preprocessed batches.</summary>
    private static double ForwardPass(PromptViTTransformer model, torch.Tensor normalized)
    {
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < normalized.shape[0]; i++)
        {
            using var scope = torch.NewDisposeScope();
            _ = model.Model.Predict(normalized[i]);
        }

        return clock.Elapsed.TotalMilliseconds;
    }

    private static double OnnxRuntimePass(InferenceSession session, DenseTensor<byte>[] batches)
    {
        var clock = Stopwatch.StartNew();
        foreach (var batch in batches)
        {
            using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("Image", batch) },
                new[] { "Score.output" });
            _ = results[0].AsTensor<float>()[0, 0];
        }

        return clock.Elapsed.TotalMilliseconds;
    }

    private static double ApplyPass(ITransformer applier, IDataView data) => ScorePass(applier, data);

    private static (long Onnx, long Zip, long Adapter) Sizes(MLContext ml, PromptViTTransformer model, IDataView data,
        VisionTransformer backbone, string folder, string onnxPath)
    {
        string zip = Path.Combine(folder, "model.zip");
        ml.Model.Save(model, data.Schema, zip);
        string adapter = Path.Combine(folder, "adapter");
        model.SaveAdapter(adapter);
        long adapterBytes = Directory.GetFiles(adapter).Sum(f => new FileInfo(f).Length);
        return (new FileInfo(onnxPath).Length, new FileInfo(zip).Length, adapterBytes);
    }

    private static IDataView PixelView(MLContext ml, BenchPixels[] rows, int c, int h, int w)
    {
        var schema = SchemaDefinition.Create(typeof(BenchPixels));
        schema[nameof(BenchPixels.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Byte, c, h, w);
        return ml.Data.LoadFromEnumerable(rows, schema);
    }

    private static byte[] RandomPixels(Random random, int count)
    {
        var pixels = new byte[count];
        random.NextBytes(pixels);
        return pixels;
    }

    private static string Mb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:F2} MB");

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
