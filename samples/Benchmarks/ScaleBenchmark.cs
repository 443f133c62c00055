using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Training;
using TorchSharp;

namespace MLNet.PromptTuning.Samples.Benchmarks;

/// <summary>
/// The scale benchmark: peak resident memory and throughput of one epoch of <c>PromptViTTrainer.Fit</c> against the
/// number of images, on image folders written from Fashion-MNIST (224×224 RGB JPEG) and a set of photo-sized images
/// (3000×2000 JPEG). Every measurement runs in its own process, so each peak (VmHWM) belongs to one Fit.
/// </summary>
/// <remarks>
/// <code>
/// Benchmarks scale [--folder DIR] [--sizes 1000,10000] [--large 200] [--threads 2] [--decoders 1]
///     [--cache-mb 0,1024] [--kinds fit,data,model] [--model tiny224] [--method vpt] [--batch 32] [--out scale.md]
/// </code>
/// Three kinds of run per size: Fit with the chosen model ("fit"); Fit with a one-token, one-block model whose
/// compute is negligible, so its time is the data path's ("data"); and the chosen model's training steps alone on
/// images already in memory ("model"), for the ratio of Fit to model throughput. A fourth kind, "score" (run only
/// as <c>--child score</c>), fits on 32 images and then scores all of them through the ML.NET transformer.
/// </remarks>
internal static class ScaleBenchmark
{
    private const int Side = 224;
    private const int LargeWidth = 3000;
    private const int LargeHeight = 2000;

    public static int Run(string[] args)
    {
        var a = Parse(args);
        if (a.TryGetValue("child", out string? child))
        {
            return RunChild(child!, a);
        }

        string folder = a.GetValueOrDefault("folder") ?? Path.Combine(Path.GetTempPath(), "promptvit-scale");
        int[] sizes = Ints(a.GetValueOrDefault("sizes") ?? "1000,10000");
        int large = int.Parse(a.GetValueOrDefault("large") ?? "200", CultureInfo.InvariantCulture);
        int[] caches = Ints(a.GetValueOrDefault("cache-mb") ?? "0,1024");
        string[] common = new[] { "threads", "decoders", "model", "method", "batch" }
            .Where(a.ContainsKey).SelectMany(k => new[] { $"--{k}", a[k]! }).ToArray();

        var writeClock = Stopwatch.StartNew();
        string fashion = ImageFolders.WriteFashion(Path.Combine(folder, "fashion224"), sizes.Max());
        string photos = ImageFolders.WriteLarge(Path.Combine(folder, "large"), large);
        Console.WriteLine($"Image folders ready in {writeClock.Elapsed.TotalSeconds:F0} s: {fashion}, {photos}");

        var kinds = (a.GetValueOrDefault("kinds") ?? "fit,data,model").Split(',');
        var rows = new List<EpochResult>();
        var load = new List<double>();
        foreach (var (data, n) in sizes.Select(n => (fashion, n)).Append((photos, large)))
        {
            foreach (string kind in kinds.Where(k => k is "fit" or "data"))
            {
                foreach (int cache in caches)
                {
                    rows.Add(EpochResult.Run(ChildProcess.Self(ChildArguments(kind, n, common, data, cache)), load));
                }
            }
        }

        if (kinds.Contains("model"))
        {
            rows.Add(EpochResult.Run(ChildProcess.Self(ChildArguments("model", 256, common)), load));
        }

        string table = Table(rows, load);
        Console.WriteLine(table);
        if (a.GetValueOrDefault("out") is { } output)
        {
            File.WriteAllText(output, table);
        }

        return 0;
    }

    /// <summary>
    /// The command line of one measurement of <paramref name="kind"/> (fit, data or model) over
    /// <paramref name="images"/> images; <paramref name="data"/> and <paramref name="cacheMb"/> apply to fit and data.
    /// </summary>
    internal static IEnumerable<string> ChildArguments(string kind, int images, IEnumerable<string> common,
        string? data = null, int cacheMb = 0)
    {
        var args = new List<string> { "scale", "--child", kind, "--n", images.ToString(CultureInfo.InvariantCulture) };
        if (data is not null)
        {
            args.AddRange(new[] { "--data", data, "--cache-mb", cacheMb.ToString(CultureInfo.InvariantCulture) });
        }

        return args.Concat(common);
    }

    private static int RunChild(string kind, Dictionary<string, string?> a)
    {
        int threads = int.Parse(a.GetValueOrDefault("threads") ?? "2", CultureInfo.InvariantCulture);
        int batch = int.Parse(a.GetValueOrDefault("batch") ?? "32", CultureInfo.InvariantCulture);
        int n = int.Parse(a["n"]!, CultureInfo.InvariantCulture);
        int cache = int.Parse(a.GetValueOrDefault("cache-mb") ?? "0", CultureInfo.InvariantCulture);
        int? decoders = a.GetValueOrDefault("decoders") is { } d ? int.Parse(d, CultureInfo.InvariantCulture) : null;
        string model = kind == "data" ? "null224" : a.GetValueOrDefault("model") ?? "tiny224";
        string method = a.GetValueOrDefault("method") ?? "vpt";
        torch.set_num_threads(threads);
        torch.manual_seed(1);
        using var backbone = new VisionTransformer(Model(model));

        var (clock, cpu, cpuTime) = StartClocks();
        if (kind == "model")
        {
            var pixels = new byte[(long)n * 3 * Side * Side];
            new Random(1).NextBytes(pixels);
            using var images = ImageTensorDataset.FromPixels(pixels, Enumerable.Range(0, n).Select(i =>
                (long)(i % 10)).ToArray(), 3, Side, Side);
            using var classifier = new Modeling.PromptedVisionTransformer(backbone, BenchModels.Method(method), 10);
            (clock, cpu, cpuTime) = StartClocks();
            new ClassifierTrainer(new TrainingOptions { MaxEpoch = 1, BatchSize = batch, NumberOfThreads = threads,
                LearningRate = 1e-3, WarmupEpochs = 0, Seed = 1 }).Train(classifier, images);
        }
        else if (kind == "score")
        {
            // Fit on the first 32 images (one epoch), then score all n through the ML.NET transformer: the peak after
            // scoring against the peak after Fit is what scoring adds.
            var ml = new MLContext(seed: 1);
            var data = ImageFolderData(ml, a["data"]!, n);
            using var trained = ml.MulticlassClassification.Trainers.PromptViT(new PromptViTTrainer.Options
            {
                Backbone = backbone, Method = method, MaxEpoch = 1, BatchSize = batch, NumberOfThreads = threads,
                ImageCacheMegabytes = 0, Seed = 1, Precision = TrainingPrecision.Float32,
            }).Fit(ml.Data.TakeRows(data, 32));
            Console.Error.WriteLine($"peak RSS after Fit on 32 images: {ProcessMeter.StatusMb("VmHWM"):F0} MB");
            (clock, cpu, cpuTime) = StartClocks();
            var scored = trained.Transform(data);
            using var cursor = scored.GetRowCursor(new[] { scored.Schema["Score"] });
            var score = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
            VBuffer<float> probabilities = default;
            while (cursor.MoveNext())
            {
                score(ref probabilities);
            }
        }
        else
        {
            var ml = new MLContext(seed: 1);
            var data = ImageFolderData(ml, a["data"]!, n);
            var options = new PromptViTTrainer.Options
            {
                Backbone = backbone,
                Method = method,
                MaxEpoch = 1,
                BatchSize = batch,
                LearningRate = 1e-3,
                WarmupEpochs = 0,
                NumberOfThreads = threads,
                ImageCacheMegabytes = cache,
                DataLoadingThreads = decoders,
                Seed = 1,
                // float32 like the model-step run and the PyTorch peer (Auto would choose bfloat16 on some CPUs).
                Precision = TrainingPrecision.Float32,
            };
            (clock, cpu, cpuTime) = StartClocks();
            using var trained = ml.MulticlassClassification.Trainers.PromptViT(options).Fit(data);
        }

        double seconds = clock.Elapsed.TotalSeconds;
        double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuTime).TotalSeconds;
        var (foreign, steal) = ProcessMeter.Share(cpu, ProcessMeter.Sample());
        var result = new EpochResult("ours", kind, kind == "model" ? "random, in memory"
            : Path.GetFileName(a["data"]!), model, n, cache, seconds, n / seconds, cpuSeconds,
            ProcessMeter.StatusMb("VmHWM"), null, decoders ?? PromptViTTrainer.Options.Defaults.DataLoadingThreads,
            threads, foreign, steal);
        Console.Error.WriteLine($"read by the process: {ProcessMeter.ReadMb():F0} MB");
        Console.WriteLine(result.ToJson());
        return 0;
    }

    /// <summary>The first <paramref name="images"/> rows of a folder's <c>rows.tsv</c>, as a user's pipeline reads
    /// them: key-mapped labels and <c>LoadRawImageBytes</c>.</summary>
    private static IDataView ImageFolderData(MLContext ml, string dataFolder, int images)
    {
        var rows = ml.Data.TakeRows(ml.Data.LoadFromTextFile<ImageFileRow>(Path.Combine(dataFolder, "rows.tsv"),
            hasHeader: true, separatorChar: '\t'), images);
        return ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadRawImageBytes("Image", dataFolder, "Path"))
            .Fit(rows).Transform(rows);
    }

    private static (Stopwatch Clock, CpuSample Cpu, TimeSpan CpuTime) StartClocks() =>
        (Stopwatch.StartNew(), ProcessMeter.Sample(), Process.GetCurrentProcess().TotalProcessorTime);

    /// <summary>
    /// tiny224: ViT at 224 with patch 16, D 192, 2 blocks, 3 heads (ViT-Ti's width at a sixth of its depth, so an
    /// epoch over 10,000 images fits the machine); null224: one 224×224 patch and one block of width 16, whose
    /// compute is negligible; ti: ViT-Ti/16.
    /// </summary>
    private static VitConfig Model(string name) => name switch
    {
        "tiny224" => VitVariants.Tiny() with { Name = "tiny224", Depth = 2 },
        "null224" => VitVariants.Tiny() with { Name = "null224", PatchSize = Side, EmbedDim = 16, Depth = 1,
            NumHeads = 1 },
        "ti" => VitVariants.Tiny(),
        _ => throw new ArgumentException($"Unknown model '{name}'; expected tiny224, null224 or ti."),
    };

    private static string Table(List<EpochResult> rows, List<double> load)
    {
        var text = new StringBuilder();
        string loads = string.Join(", ", load.Select(l => l.ToString("F2", CultureInfo.InvariantCulture)));
        text.AppendLine(CultureInfo.InvariantCulture,
            $"Load average (1 min) after each run: {loads}; {Environment.ProcessorCount} cores.");
        text.AppendLine();
        text.AppendLine(
            "| run | data | model | images | cache (MiB) | decoding threads | time (s) | images/s | peak RSS (MB) |");
        text.AppendLine("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in rows)
        {
            bool model = r.Kind == "model";
            string cache = model ? "–" : r.CacheMb.ToString(CultureInfo.InvariantCulture);
            string decoders = model ? "–" : r.Decoders.ToString(CultureInfo.InvariantCulture);
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Kind} | {r.Data} | {r.Model} | {r.Images:N0} | {cache} | {decoders} | {r.Seconds:F1} | " +
                $"{r.ImagesPerSecond:F1} | {r.PeakRssMb:F0} |");
        }

        return text.ToString();
    }

    private static int[] Ints(string list) =>
        list.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();

    /// <summary>"--key value" pairs (a key without a value maps to null).</summary>
    private static Dictionary<string, string?> Parse(string[] args)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"Unexpected argument '{args[i]}'; options look like --name value.");
            }

            bool hasValue = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            values[args[i][2..]] = hasValue ? args[++i] : null;
        }

        return values;
    }

    /// <summary>One line of the rows file.</summary>
    private sealed class ImageFileRow
    {
        [LoadColumn(0)]
        public string Path { get; set; } = string.Empty;

        [LoadColumn(1)]
        public string Label { get; set; } = string.Empty;
    }
}
