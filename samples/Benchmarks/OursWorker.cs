using System.Diagnostics;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Training;
using TorchSharp;

namespace MLNet.PromptTuning.Samples.Benchmarks;

/// <summary>
/// The library side: builds <see cref="PromptedVisionTransformer"/> and trains it through <see
/// cref="ClassifierTrainer"/> (the path users take), timing every step from the trainer's progress reports, then scores
/// batches through
/// <see cref="ClassifierPredictor"/>. Runs in its own process so VmHWM is this configuration's peak alone.
/// </summary>
internal static class OursWorker
{
    public static RunResult Train(WorkerSettings s)
    {
        torch.set_num_threads(s.Threads);
        using var model = CreateModel(s);
        int total = s.Warmup + s.Steps;
        using var data = RandomData(s.Model, total * s.Batch, s.Seed);
        double rssStart = ProcessMeter.StatusMb("VmRSS");

        var stamps = new List<long>(total + 1);
        var options = Options(s, epochs: 1);
        var before = ProcessMeter.Sample();
        stamps.Add(Stopwatch.GetTimestamp());
        var progress = new Reporter(p =>
        {
            if (p.Phase == TrainingPhase.Training)
            {
                stamps.Add(Stopwatch.GetTimestamp());
            }
        });
        var wall = Stopwatch.StartNew();
        new ClassifierTrainer(options, progress: progress).Train(model, data);
        double trainWall = wall.Elapsed.TotalSeconds;
        var trainCpu = ProcessMeter.Sample();
        double trainHwm = ProcessMeter.StatusMb("VmHWM");

        var predictor = new ClassifierPredictor(model, "cpu", s.Precision, s.Batch);
        var inferTimes = new List<double>();
        for (int i = 0; i < s.InferWarmup + s.InferSteps; i++)
        {
            using var scope = torch.NewDisposeScope();
            long start = (long)i * s.Batch % data.Count;
            var batch = data.Images.narrow(0, start, Math.Min(s.Batch, data.Count - start));
            var t0 = Stopwatch.GetTimestamp();
            using var scores = predictor.PredictScores(batch);
            if (i >= s.InferWarmup)
            {
                inferTimes.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
        }

        var after = ProcessMeter.Sample();
        var (foreignInfer, stealInfer) = ProcessMeter.Share(trainCpu, after);
        var steps = stamps.Zip(stamps.Skip(1), (a, b) => Stopwatch.GetElapsedTime(a, b).TotalMilliseconds).ToArray();
        var (foreignTrain, stealTrain) = ProcessMeter.Share(before, trainCpu);
        var (foreign, steal) = ProcessMeter.Share(before, after);
        return new RunResult
        {
            Side = "ours",
            Variant = s.Variant,
            Model = s.Model,
            Mode = s.Mode,
            Batch = s.Batch,
            Threads = torch.get_num_threads(),
            StepMsMedian = Median(steps.Skip(s.Warmup)),
            StepMsAll = steps.Select(t => Math.Round(t, 2)).ToArray(),
            InferBatchMsMedian = Median(inferTimes),
            RssStartMb = rssStart,
            TrainHwmMb = trainHwm,
            HwmMb = ProcessMeter.StatusMb("VmHWM"),
            ForeignPctTrain = foreignTrain,
            StealPctTrain = stealTrain,
            ForeignPctInfer = foreignInfer,
            StealPctInfer = stealInfer,
            ForeignPct = foreign,
            StealPct = steal,
            TrainWallS = trainWall,
            Trainable = model.CountTrainableParameters(),
            Torch = "TorchSharp " + typeof(torch).Assembly.GetName().Version,
            Allocator = Allocator(),
        };
    }

    /// <summary>Trains the embedded-architecture VPT-Deep model for max(probes) steps and samples VmRSS at each probe
    /// step.</summary>
    public static RunResult Soak(WorkerSettings s, IReadOnlyCollection<int> probes)
    {
        torch.set_num_threads(s.Threads);
        using var model = CreateModel(s);
        // One epoch covers every probe and ends after the last one, as in a real run whose epochs are long:
        // end-of-epoch work (the library trims glibc's arenas then) neither repeats every few steps nor runs before a
        // probe.
        int last = probes.Max();
        using var data = RandomData(s.Model, (last + 1) * s.Batch, s.Seed);
        var rss = new Dictionary<string, double>();
        long live = 0;
        using var cts = new CancellationTokenSource();
        var progress = new Reporter(p =>
        {
            if (p.Phase != TrainingPhase.Training)
            {
                return;
            }

            if (probes.Contains((int)p.Step))
            {
                rss[p.Step.ToString(System.Globalization.CultureInfo.InvariantCulture)] = ProcessMeter.StatusMb(
                    "VmRSS");
                live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            }

            if (p.Step >= last)
            {
                cts.Cancel();
            }
        });
        var before = ProcessMeter.Sample();
        var wall = Stopwatch.StartNew();
        try
        {
            new ClassifierTrainer(Options(s, epochs: 1), progress: progress)
                .Train(model, data, cancellationToken: cts.Token);
        }
        catch (OperationCanceledException)
        {
            // Stopping at the last probe is the point.
        }

        var (foreign, steal) = ProcessMeter.Share(before, ProcessMeter.Sample());
        return new RunResult
        {
            Side = "ours",
            Variant = s.Variant,
            Model = s.Model,
            Mode = s.Mode,
            Batch = s.Batch,
            Threads = torch.get_num_threads(),
            RssMb = rss,
            HwmMb = ProcessMeter.StatusMb("VmHWM"),
            MsPerStep = wall.Elapsed.TotalMilliseconds / last,
            ForeignPct = foreign,
            StealPct = steal,
            LiveTensors = live,
            Allocator = Allocator(),
        };
    }

    /// <summary>Best and median of a 2048³ (or <paramref name="size"/>³) fp32 matmul, after three warm-up
    /// products.</summary>
    public static RunResult Matmul(int size, int repeats, int threads)
    {
        torch.set_num_threads(threads);
        using var a = torch.randn(size, size);
        using var b = torch.randn(size, size);
        for (int i = 0; i < 3; i++)
        {
            using var warm = torch.matmul(a, b);
        }

        var before = ProcessMeter.Sample();
        var times = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            var t0 = Stopwatch.GetTimestamp();
            using var c = torch.matmul(a, b);
            times.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }

        var (foreign, steal) = ProcessMeter.Share(before, ProcessMeter.Sample());
        double flops = 2.0 * size * size * (double)size;
        return new RunResult
        {
            Side = "ours",
            Size = size,
            Threads = torch.get_num_threads(),
            GflopsBest = flops / times.Min() / 1e9,
            GflopsMedian = flops / Median(times) / 1e9,
            ForeignPct = foreign,
            StealPct = steal,
            Torch = "TorchSharp " + typeof(torch).Assembly.GetName().Version,
        };
    }

    private static PromptedVisionTransformer CreateModel(WorkerSettings s)
    {
        torch.manual_seed(s.Seed);
        var config = BenchModels.Config(s.Model);
        var backbone = new Backbones.VisionTransformer(config);
        var model = new PromptedVisionTransformer(
            backbone, BenchModels.Method(s.Mode), BenchModels.Classes, ownsBackbone: true);
        model.Backbone.UseFusedAttention = !s.ExplicitAttention;
        if (s.Precision == TrainingPrecision.BFloat16)
        {
            model.SetComputePrecision(torch.ScalarType.BFloat16);
        }

        return model;
    }

    private static TrainingOptions Options(WorkerSettings s, int epochs) => new TrainingOptions
    {
        MaxEpoch = epochs,
        BatchSize = s.Batch,
        LearningRate = 1e-3,
        WeightDecay = 0.01,
        WarmupEpochs = 0,
        Device = "cpu",
        NumberOfThreads = s.Threads,
        Precision = s.Precision,
        Seed = s.Seed,
        LogEveryNSteps = 0,
    } with
    {
        ReleaseMemoryEveryNSteps = s.ReleaseEvery >= 0 ? s.ReleaseEvery
            : new TrainingOptions().ReleaseMemoryEveryNSteps,
    };

    /// <summary>Random uint8 images at the model's input size (so no resize runs) and balanced labels.</summary>
    private static ImageTensorDataset RandomData(string model, int count, int seed)
    {
        var c = BenchModels.Config(model);
        using var scope = torch.NewDisposeScope();
        var generator = new torch.Generator((ulong)seed);
        var images = torch.randint(0, 256, new long[] { count, c.InChannels, c.ImageHeight, c.ImageWidth },
            torch.ScalarType.Byte, generator: generator);
        var labels = torch.arange(count, torch.ScalarType.Int64) % BenchModels.Classes;
        var data = new ImageTensorDataset(images, labels);
        return data;
    }

    public static string Allocator()
    {
        var preload = Environment.GetEnvironmentVariable("LD_PRELOAD");
        return preload is { Length: > 0 } && preload.Contains("jemalloc", StringComparison.Ordinal)
            ? "jemalloc"
            : preload is { Length: > 0 } ? preload : "glibc";
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private sealed class Reporter(Action<TrainingProgress> onReport) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => onReport(value);
    }
}

/// <summary>What one worker run measures.</summary>
internal sealed record WorkerSettings(
    string Model, string Mode, int Batch, int Threads, int Warmup, int Steps, int InferWarmup, int InferSteps, int Seed,
    TrainingPrecision Precision, bool ExplicitAttention, string Variant, int ReleaseEvery = -1);
