using System.CommandLine;

namespace MLNet.PromptTuning.Samples.Benchmarks;

/// <summary>
/// The benchmark program's commands: <c>compare</c> (the default, so its options also work without the word),
/// the internal <c>worker</c>, <c>soak</c> and <c>matmul</c> that <c>compare</c> spawns, <c>onnx</c> and <c>e2e</c>.
/// </summary>
internal static class BenchmarksCommandLine
{
    // compare
    public static readonly DefaultedOption<string[]> Models = SampleOption.Names("--models", "models to time",
        BenchModels.ModelNames, "a,b", allowed: BenchModels.ModelNames);

    public static readonly DefaultedOption<string[]> Modes = SampleOption.Names("--modes", "methods to time",
        BenchModels.ModeNames, "a,b", allowed: BenchModels.ModeNames);

    public static readonly Option<int> Batch = SampleOption.Value("--batch", "images per step", 32, "N", minimum: 1);

    public static readonly Option<int> Threads = SampleOption.Value("--threads", "CPU threads of both sides", 2, "N",
        minimum: 1);

    public static readonly Option<int> Rounds = SampleOption.Value("--rounds",
        "alternating rounds of every configuration", 1, "N", minimum: 1);

    public static readonly Option<int> Retries = SampleOption.Value("--retries",
        "re-measurements of a run disturbed by other processes", 2, "N", minimum: 0);

    public static readonly Option<double> MaxForeign = SampleOption.Value("--max-foreign",
        "CPU share (%) of other processes above which a run is measured again", 10.0, "PCT", minimum: 0);

    public static readonly Option<int?> Steps = SampleOption.Optional<int>("--steps", "timed training steps",
        "per model", "N", minimum: 1);

    public static readonly Option<int?> Warmup = SampleOption.Optional<int>("--warmup", "untimed warm-up steps",
        "per model", "N", minimum: 0);

    public static readonly DefaultedOption<string[]> Levers = SampleOption.Names("--levers",
        "extra variants of ours to time", Array.Empty<string>(), "a,b", "none", allowed: Orchestrator.LeverNames);

    public static readonly Option<string> Allocator = SampleOption.Choice("--allocator",
        "native allocator of our worker processes", "glibc", "glibc", "jemalloc");

    public static readonly Option<bool> Soak = SampleOption.Flag("--soak", "also run the memory soak");

    public static readonly Option<int> SoakSteps = SampleOption.Value("--soak-steps", "steps of the memory soak",
        1000, "N", minimum: 1);

    public static readonly Option<bool> SkipCompare = SampleOption.Flag("--skip-compare",
        "skip the speed comparison (soak or levers only)");

    public static readonly Option<int> WaitQuiet = SampleOption.Value("--wait-quiet",
        "seconds to wait for the machine to become quiet before starting; 0 = do not wait", 0, "S", minimum: 0);

    public static readonly DefaultedOption<string> Python = SampleOption.Text("--python",
        "the Python with torch for the PyTorch side", () => "/usr/bin/python3", "FILE");

    public static readonly DefaultedOption<string> Peer = SampleOption.Text("--peer", "the PyTorch side's script",
        () => Path.Combine(AppContext.BaseDirectory, "peer", "bench_peer.py"), "FILE", "peer/bench_peer.py");

    public static readonly Option<string?> Out = SampleOption.OptionalText("--out", "Markdown report",
        "standard output only", "FILE");

    public static readonly Option<string?> Raw = SampleOption.OptionalText("--raw", "every measurement as JSON lines",
        "none", "FILE");

    // worker, soak
    public static readonly DefaultedOption<string> Model = SampleOption.Text("--model", "ti or embedded",
        () => "embedded", "NAME");

    public static readonly DefaultedOption<string> Mode = SampleOption.Text("--mode", "linear, vpt, tcpa or full",
        () => "vpt", "NAME");

    public static readonly Option<int> WorkerWarmup = SampleOption.Value("--warmup", "untimed warm-up steps", 3, "N",
        minimum: 0);

    public static readonly Option<int> WorkerSteps = SampleOption.Value("--steps", "timed training steps", 10, "N",
        minimum: 1);

    public static readonly Option<int> InferWarmup = SampleOption.Value("--infer-warmup",
        "untimed inference batches", 2, "N", minimum: 0);

    public static readonly Option<int> InferSteps = SampleOption.Value("--infer-steps", "timed inference batches",
        10, "N", minimum: 1);

    public static readonly Option<int> Seed = SampleOption.Value("--seed", "random seed", 0, "N");

    public static readonly Option<bool> BFloat16 = SampleOption.Flag("--bf16", "frozen backbone in bfloat16");

    public static readonly Option<bool> ExplicitAttention = SampleOption.Flag("--explicit-attention",
        "attention as explicit matrix products instead of the fused kernel");

    public static readonly DefaultedOption<string> Variant = SampleOption.Text("--variant",
        "label of this variant in the report", () => "default", "TEXT");

    public static readonly Option<int> ReleaseEvery = SampleOption.Value("--release-every",
        "return freed native memory every N steps (0 = off; -1 = the library's default)", -1, "N", minimum: -1);

    public static readonly DefaultedOption<int[]> Probes = SampleOption.List("--probes",
        "soak steps at which memory is sampled", new[] { 50, 1000 }, "A,B");

    // matmul
    public static readonly Option<int> Size = SampleOption.Value("--size", "matrix size", 2048, "N", minimum: 1);

    public static readonly Option<int> Repeats = SampleOption.Value("--repeats", "timed products", 10, "N",
        minimum: 1);

    // onnx
    public static readonly DefaultedOption<string[]> OnnxModes = SampleOption.Names("--modes", "methods to export",
        OnnxSpeed.ModeNames, "a,b", allowed: OnnxSpeed.ModeNames);

    public static readonly Option<int> Batches = SampleOption.Value("--batches", "scored batches per round", 4, "N",
        minimum: 1);

    public static readonly Option<int> OnnxRounds = SampleOption.Value("--rounds", "alternating rounds", 5, "N",
        minimum: 1);

    // e2e
    public static readonly DefaultedOption<string> E2eFolder = SampleOption.Text("--folder",
        "where the image folder is written (once) and read", () => Path.Combine(Path.GetTempPath(), "promptvit-e2e"),
        "DIR", "$TMPDIR/promptvit-e2e");

    public static readonly Option<int> Images = SampleOption.Value("--images",
        "Fashion-MNIST images in the folder (224×224 JPEG, one folder per class), trained on for one epoch", 1000, "N",
        minimum: 1);

    public static readonly Option<int?> Decoders = SampleOption.Optional<int>("--decoders",
        "our decoding threads and the peer's DataLoader workers", "the library's default", "N", minimum: 1);

    public static readonly Option<int> CacheMb = SampleOption.Value("--cache-mb", "our image cache in MiB",
        PromptViTTrainer.Options.Defaults.ImageCacheMegabytes, "MIB", minimum: 0);

    public static readonly DefaultedOption<string[]> Kinds = SampleOption.Names("--kinds",
        "runs on each side: data (null224 backbone), fit (tiny224 VPT-Deep P=10), model (steps alone, in memory)",
        EndToEndBenchmark.KindNames, "a,b", allowed: EndToEndBenchmark.KindNames);

    public static readonly Option<double> MaxLoad = SampleOption.Value("--max-load",
        "1-minute load average below which a run starts (see --wait-quiet)", 2.5, "LOAD", minimum: 0);

    public static readonly Option<int> E2eWaitQuiet = SampleOption.Value("--wait-quiet",
        "seconds to wait before each run for the load average to fall below --max-load; 0 = do not wait", 0, "S",
        minimum: 0);

    public static readonly DefaultedOption<string> E2ePeer = SampleOption.Text("--peer", "the PyTorch side's script",
        () => Path.Combine(AppContext.BaseDirectory, "peer", "e2e_peer.py"), "FILE", "peer/e2e_peer.py");

    /// <summary>The compare command (also the root command's own options).</summary>
    public static readonly Command Compare = WithOptions(new Command("compare",
        "Speed and memory of ours against the same models in plain PyTorch, alternately (the default command)."),
        CompareOptions());

    /// <summary>One training configuration, timed (spawned by compare).</summary>
    public static readonly Command Worker = WithOptions(new Command("worker",
        "Internal: time one configuration and print JSON."), WorkerOptions());

    /// <summary>The memory soak of one configuration (spawned by compare).</summary>
    public static readonly Command SoakCommand = WithOptions(new Command("soak",
        "Internal: memory of one configuration over many steps, as JSON."), WorkerOptions().Append(Probes));

    /// <summary>A matrix product, timed (spawned by compare).</summary>
    public static readonly Command Matmul = WithOptions(new Command("matmul",
        "Internal: time a square matrix product, as JSON."), new Option[] { Size, Repeats, Threads });

    /// <summary>ONNX export against TorchSharp scoring.</summary>
    public static readonly Command Onnx = WithOptions(new Command("onnx",
        "Scoring speed of the ONNX export against TorchSharp, alternately in one process."),
        new Option[] { Models, OnnxModes, Batch, Batches, Threads, OnnxRounds, Out });

    /// <summary>One epoch of Fit from an image folder against a PyTorch DataLoader loop over the same folder.</summary>
    public static readonly Command E2e = WithOptions(new Command("e2e",
        "One epoch of Fit from an image folder against a PyTorch Dataset + DataLoader epoch over the same folder, " +
        "the data path alone and the model step alone, alternately, one process per run."),
        new Option[]
        {
            E2eFolder, Images, Batch, Threads, Decoders, CacheMb, Kinds, Rounds, MaxLoad, E2eWaitQuiet, Python,
            E2ePeer, Out,
        });

    /// <summary>The whole command line.</summary>
    public static RootCommand CreateCommand()
    {
        var root = SampleCommandLine.CreateRoot(
            "Benchmarks: speed and memory of the library against the same models in plain PyTorch, and of the " +
            "ONNX export. Without a command: compare.", CompareOptions());
        foreach (var command in new[] { Compare, Worker, SoakCommand, Matmul, Onnx, E2e })
        {
            root.Subcommands.Add(command);
        }

        return root;
    }

    private static IEnumerable<Option> CompareOptions() => new Option[]
    {
        Models, Modes, Batch, Threads, Rounds, Retries, MaxForeign, Steps, Warmup, Levers, Allocator, Soak,
        SoakSteps, SkipCompare, WaitQuiet, Python, Peer, Out, Raw,
    };

    private static IEnumerable<Option> WorkerOptions() => new Option[]
    {
        Model, Mode, Batch, Threads, WorkerWarmup, WorkerSteps, InferWarmup, InferSteps, Seed, BFloat16,
        ExplicitAttention, Variant, ReleaseEvery,
    };

    private static T WithOptions<T>(T command, IEnumerable<Option> options)
        where T : Command
    {
        foreach (var option in options)
        {
            command.Options.Add(option);
        }

        return command;
    }
}
