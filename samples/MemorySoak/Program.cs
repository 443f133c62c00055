// Memory soak: runs N training steps of the library's VPT-Deep model (PromptedVisionTransformer on a small random ViT:
// D 192, 6 blocks, 3 heads, patch 4, 28x28x1, the "small" configuration of the performance baseline) through
// ClassifierTrainer, and prints the process RSS (VmRSS) and TorchSharp's live-tensor count at chosen steps.
// A program, not a test.
//
//   dotnet run -c Release --project samples/MemorySoak -- [--steps 500] [--batch 32] [--threads 2]
//
// Compare allocators with LD_PRELOAD=libjemalloc.so.2 or MALLOC_MMAP_THRESHOLD_=65536 (glibc malloc fragments).
using System.Diagnostics;
using System.Globalization;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Training;
using TorchSharp;

int steps = IntArg("--steps", 500);
int batch = IntArg("--batch", 32);
int threads = IntArg("--threads", 2);
const int StepsPerEpoch = 10;
var probes = new SortedSet<long> { 1, 50, 100, 500, steps };
probes.RemoveWhere(s => s > steps);

torch.manual_seed(0);
var config = new VitConfig
{
    Name = "vit_small_soak",
    ImageHeight = 28,
    ImageWidth = 28,
    PatchSize = 4,
    InChannels = 1,
    EmbedDim = 192,
    Depth = 6,
    NumHeads = 3,
    Preprocessing = ImagePreprocessing.Inception(28, 1),
};
using var backbone = new VisionTransformer(config);
using var model = new PromptedVisionTransformer(backbone, new VptOptions { PromptLength = 10, Depth = VptDepth.Deep }, 10);
int images = StepsPerEpoch * batch;
var pixels = new byte[images * 28 * 28];
new Random(0).NextBytes(pixels);
var labels = Enumerable.Range(0, images).Select(i => (long)(i % 10)).ToArray();
using var data = ImageTensorDataset.FromPixels(pixels, labels, 1, 28, 28);

Console.WriteLine(FormattableString.Invariant(
    $"MemorySoak: {steps} steps, batch {batch}, {threads} threads, VPT-Deep P=10 on D192 L6 H3 p4 28x28x1; allocator: {Allocator()}"));
Console.WriteLine("step\tVmRSS_MB\tlive_tensors\telapsed_s");
var clock = Stopwatch.StartNew();
var progress = new Reporter(p =>
{
    if (p.Phase == TrainingPhase.Training && probes.Contains(p.Step))
    {
        Console.WriteLine(FormattableString.Invariant(
            $"{p.Step}\t{ReadStatusMb("VmRSS"):F0}\t{DisposeScopeManager.Statistics.ThreadTotalLiveCount}\t{clock.Elapsed.TotalSeconds:F1}"));
    }
});
var options = new TrainingOptions
{
    Epochs = (steps + StepsPerEpoch - 1) / StepsPerEpoch,
    BatchSize = batch,
    LearningRate = 1e-3,
    WarmupEpochs = 1,
    Device = "cpu",
    NumberOfThreads = threads,
    LogEveryNSteps = 0,
};
using var cts = new CancellationTokenSource();
var stopAt = new Reporter(p =>
{
    progress.Report(p);
    if (p.Phase == TrainingPhase.Training && p.Step >= steps)
    {
        cts.Cancel();
    }
});
try
{
    new ClassifierTrainer(options, progress: stopAt).Train(model, data, cancellationToken: cts.Token);
}
catch (OperationCanceledException)
{
    // N is not always a whole number of epochs; stopping early is the point.
}

Console.WriteLine(FormattableString.Invariant(
    $"peak VmHWM_MB\t{ReadStatusMb("VmHWM"):F0}\t{clock.Elapsed.TotalSeconds / steps * 1000:F0} ms/step"));

static double ReadStatusMb(string key)
{
    foreach (var line in File.ReadLines("/proc/self/status"))
    {
        if (line.StartsWith(key + ":", StringComparison.Ordinal))
        {
            var kb = line[(key.Length + 1)..].Trim().Split(' ')[0];
            return double.Parse(kb, CultureInfo.InvariantCulture) / 1024.0;
        }
    }

    return double.NaN;
}

static string Allocator()
{
    var preload = Environment.GetEnvironmentVariable("LD_PRELOAD");
    var mmap = Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_");
    return preload is { Length: > 0 } ? $"LD_PRELOAD={preload}"
        : mmap is { Length: > 0 } ? $"glibc, MALLOC_MMAP_THRESHOLD_={mmap}"
        : "glibc malloc (default)";
}

int IntArg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

internal sealed class Reporter(Action<TrainingProgress> onReport) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress value) => onReport(value);
}
