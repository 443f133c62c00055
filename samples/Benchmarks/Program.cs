// Research tool, not an example. Speed and memory of the library against the same models written in plain PyTorch
// (Debian's python3-torch), measured side by side on this machine. A program, not a test. See docs/benchmarks.md for
// the results and how to read them.
//
//   dotnet build -c Release samples/Benchmarks
//   samples/Benchmarks/bin/Release/net10.0/Benchmarks [compare] [--models ti,embedded] [--modes linear,vpt,tcpa,full]
//       [--batch 32] [--threads 2] [--rounds 1] [--retries 2] [--max-foreign 10] [--levers explicit,jemalloc,bf16]
//       [--soak] [--soak-steps 1000] [--skip-compare] [--allocator glibc|jemalloc] [--python /usr/bin/python3]
//       [--out results.md] [--raw results.jsonl] [--steps N --warmup W] [--wait-quiet 600]
//
// Internal commands (one configuration per process; the compare command spawns them):
//   worker --model ti|embedded --mode linear|vpt|tcpa|full [--bf16] [--explicit-attention] ...
//   soak --model embedded --mode vpt --probes 50,1000 [--release-every N (0 = off; default: the library's)]
//   matmul --size 2048 --repeats 10
//
// End to end from an image folder against a PyTorch Dataset + DataLoader peer (peer/e2e_peer.py; one process per
// run, alternating; see docs/benchmarks.md):
//   e2e [--folder DIR] [--images 1000] [--batch 32] [--threads 2] [--decoders N] [--cache-mb 1024]
//       [--kinds data,fit,model] [--rounds 1] [--max-load 2.5 --wait-quiet S] [--python FILE] [--out e2e.md]
//
// ONNX export (one process, both sides alternating; see docs/benchmarks.md):
//   onnx [--models embedded,ti] [--modes linear,vpt,tcpa,cvpt,lspt,sep,full] [--batch 32] [--batches 4]
//       [--threads 2] [--rounds 5] [--out onnx.md]
using MLNet.PromptTuning.Runtime;
using MLNet.PromptTuning.Samples;
using MLNet.PromptTuning.Samples.Benchmarks;
using MLNet.PromptTuning.Training;

// The scale benchmark spawns itself per measurement and reads its own options (ScaleBenchmark.cs).
if (args.Length > 0 && args[0] == "scale")
{
    TorchNativeLibrary.EnsureLoaded();
    return ScaleBenchmark.Run(args[1..]);
}

if (SampleCommandLine.Parse(BenchmarksCommandLine.CreateCommand(), args, out int exitCode) is not { } parsed)
{
    return exitCode;
}

// The workers call TorchSharp before the library: load the native library the library's way first.
TorchNativeLibrary.EnsureLoaded();
var command = parsed.CommandResult.Command;
try
{
    if (command == BenchmarksCommandLine.Worker || command == BenchmarksCommandLine.SoakCommand)
    {
        var settings = new WorkerSettings(
            Model: BenchmarksCommandLine.Model.ValueIn(parsed),
            Mode: BenchmarksCommandLine.Mode.ValueIn(parsed),
            Batch: parsed.GetValue(BenchmarksCommandLine.Batch),
            Threads: parsed.GetValue(BenchmarksCommandLine.Threads),
            Warmup: parsed.GetValue(BenchmarksCommandLine.WorkerWarmup),
            Steps: parsed.GetValue(BenchmarksCommandLine.WorkerSteps),
            InferWarmup: parsed.GetValue(BenchmarksCommandLine.InferWarmup),
            InferSteps: parsed.GetValue(BenchmarksCommandLine.InferSteps),
            Seed: parsed.GetValue(BenchmarksCommandLine.Seed),
            Precision: parsed.GetValue(BenchmarksCommandLine.BFloat16) ? TrainingPrecision.BFloat16
                : TrainingPrecision.Float32,
            ExplicitAttention: parsed.GetValue(BenchmarksCommandLine.ExplicitAttention),
            Variant: BenchmarksCommandLine.Variant.ValueIn(parsed),
            ReleaseEvery: parsed.GetValue(BenchmarksCommandLine.ReleaseEvery));
        var result = command == BenchmarksCommandLine.Worker ? OursWorker.Train(settings)
            : OursWorker.Soak(settings, BenchmarksCommandLine.Probes.ValueIn(parsed));
        Console.WriteLine(result.ToJson());
        return 0;
    }

    if (command == BenchmarksCommandLine.Matmul)
    {
        Console.WriteLine(OursWorker.Matmul(parsed.GetValue(BenchmarksCommandLine.Size),
            parsed.GetValue(BenchmarksCommandLine.Repeats), parsed.GetValue(BenchmarksCommandLine.Threads)).ToJson());
        return 0;
    }

    if (command == BenchmarksCommandLine.Onnx)
    {
        return OnnxSpeed.Run(new OnnxSpeed.Settings(
            Models: BenchmarksCommandLine.Models.ValueIn(parsed),
            Modes: BenchmarksCommandLine.OnnxModes.ValueIn(parsed),
            Batch: parsed.GetValue(BenchmarksCommandLine.Batch),
            Batches: parsed.GetValue(BenchmarksCommandLine.Batches),
            Threads: parsed.GetValue(BenchmarksCommandLine.Threads),
            Rounds: parsed.GetValue(BenchmarksCommandLine.OnnxRounds),
            OutPath: parsed.GetValue(BenchmarksCommandLine.Out)));
    }

    if (command == BenchmarksCommandLine.E2e)
    {
        return EndToEndBenchmark.Run(new EndToEndBenchmark.Settings(
            Folder: BenchmarksCommandLine.E2eFolder.ValueIn(parsed),
            Images: parsed.GetValue(BenchmarksCommandLine.Images),
            Batch: parsed.GetValue(BenchmarksCommandLine.Batch),
            Threads: parsed.GetValue(BenchmarksCommandLine.Threads),
            Decoders: parsed.GetValue(BenchmarksCommandLine.Decoders),
            CacheMb: parsed.GetValue(BenchmarksCommandLine.CacheMb),
            Kinds: BenchmarksCommandLine.Kinds.ValueIn(parsed),
            Rounds: parsed.GetValue(BenchmarksCommandLine.Rounds),
            MaxLoad: parsed.GetValue(BenchmarksCommandLine.MaxLoad),
            WaitQuietSeconds: parsed.GetValue(BenchmarksCommandLine.E2eWaitQuiet),
            Python: BenchmarksCommandLine.Python.ValueIn(parsed),
            PeerScript: BenchmarksCommandLine.E2ePeer.ValueIn(parsed),
            OutPath: parsed.GetValue(BenchmarksCommandLine.Out)));
    }

    // compare, named or not.
    return new Orchestrator(new Orchestrator.Settings(
        Models: BenchmarksCommandLine.Models.ValueIn(parsed),
        Modes: BenchmarksCommandLine.Modes.ValueIn(parsed),
        Batch: parsed.GetValue(BenchmarksCommandLine.Batch),
        Threads: parsed.GetValue(BenchmarksCommandLine.Threads),
        Rounds: parsed.GetValue(BenchmarksCommandLine.Rounds),
        Retries: parsed.GetValue(BenchmarksCommandLine.Retries),
        MaxForeign: parsed.GetValue(BenchmarksCommandLine.MaxForeign),
        Steps: parsed.GetValue(BenchmarksCommandLine.Steps),
        Warmup: parsed.GetValue(BenchmarksCommandLine.Warmup),
        Levers: BenchmarksCommandLine.Levers.ValueIn(parsed),
        OursAllocator: parsed.GetValue(BenchmarksCommandLine.Allocator)!,
        Soak: parsed.GetValue(BenchmarksCommandLine.Soak),
        SoakSteps: parsed.GetValue(BenchmarksCommandLine.SoakSteps),
        SkipCompare: parsed.GetValue(BenchmarksCommandLine.SkipCompare),
        WaitQuietSeconds: parsed.GetValue(BenchmarksCommandLine.WaitQuiet),
        Python: BenchmarksCommandLine.Python.ValueIn(parsed),
        PeerScript: BenchmarksCommandLine.Peer.ValueIn(parsed),
        OutPath: parsed.GetValue(BenchmarksCommandLine.Out),
        RawPath: parsed.GetValue(BenchmarksCommandLine.Raw))).Run();
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return SampleCommandLine.UsageError;
}
