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
// ONNX export (one process, both sides alternating; see docs/benchmarks.md):
//   onnx [--models embedded,ti] [--modes linear,vpt,tcpa,cvpt,lspt,sep,full] [--batch 32] [--batches 4]
//       [--threads 2] [--rounds 5] [--out onnx.md]
using MLNet.PromptTuning.Samples;
using MLNet.PromptTuning.Samples.Benchmarks;
using MLNet.PromptTuning.Training;

if (args.Length > 0 && args[0] == "scale")
{
    return ScaleBenchmark.Run(args[1..]); // parses its own options; see ScaleBenchmark.cs
}

var command = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "compare";
var a = new CommandLineArgs(args.Length > 0 && command == args[0] ? args.Skip(1) : args);
try
{
    switch (command)
    {
        case "compare":
        {
            var levers = a.List("levers", Array.Empty<string>());
            var unknown = levers.Except(Orchestrator.LeverNames).ToList();
            if (unknown.Count > 0)
            {
                throw new ArgumentException(
                    $"Unknown lever(s) {string.Join(", ", unknown)}; expected " +
                    $"{string.Join(", ", Orchestrator.LeverNames)}.");
            }

            var settings = new Orchestrator.Settings(
                Models: a.List("models", BenchModels.ModelNames),
                Modes: a.List("modes", BenchModels.ModeNames),
                Batch: a.Int("batch", 32),
                Threads: a.Int("threads", 2),
                Rounds: a.Int("rounds", 1),
                Retries: a.Int("retries", 2),
                MaxForeign: a.Double("max-foreign", 10),
                Steps: a.OptionalString("steps") is { } st
                    ? int.Parse(st, System.Globalization.CultureInfo.InvariantCulture) : null,
                Warmup: a.OptionalString("warmup") is { } w
                    ? int.Parse(w, System.Globalization.CultureInfo.InvariantCulture) : null,
                Levers: levers,
                OursAllocator: a.String("allocator", "glibc"),
                Soak: a.Flag("soak"),
                SoakSteps: a.Int("soak-steps", 1000),
                SkipCompare: a.Flag("skip-compare"),
                WaitQuietSeconds: a.Int("wait-quiet", 0),
                Python: a.String("python", "/usr/bin/python3"),
                PeerScript: a.String("peer", Path.Combine(AppContext.BaseDirectory, "peer", "bench_peer.py")),
                OutPath: a.OptionalString("out"),
                RawPath: a.OptionalString("raw"));
            a.RejectUnknown();
            return new Orchestrator(settings).Run();
        }

        case "worker":
        case "soak":
        {
            var settings = new WorkerSettings(
                Model: a.String("model", "embedded"),
                Mode: a.String("mode", "vpt"),
                Batch: a.Int("batch", 32),
                Threads: a.Int("threads", 2),
                Warmup: a.Int("warmup", 3),
                Steps: a.Int("steps", 10),
                InferWarmup: a.Int("infer-warmup", 2),
                InferSteps: a.Int("infer-steps", 10),
                Seed: a.Int("seed", 0),
                Precision: a.Flag("bf16") ? TrainingPrecision.BFloat16 : TrainingPrecision.Float32,
                ExplicitAttention: a.Flag("explicit-attention"),
                Variant: a.String("variant", "default"),
                ReleaseEvery: a.Int("release-every", -1));
            var probes = a.List("probes", new[] { "50", "1000" }).Select(int.Parse).ToArray();
            a.RejectUnknown();
            var result = command == "worker" ? OursWorker.Train(settings) : OursWorker.Soak(settings, probes);
            Console.WriteLine(result.ToJson());
            return 0;
        }

        case "matmul":
        {
            int size = a.Int("size", 2048), repeats = a.Int("repeats", 10), threads = a.Int("threads", 2);
            a.RejectUnknown();
            Console.WriteLine(OursWorker.Matmul(size, repeats, threads).ToJson());
            return 0;
        }

        case "onnx":
        {
            var settings = new OnnxSpeed.Settings(
                Models: a.List("models", BenchModels.ModelNames),
                Modes: a.List("modes", OnnxSpeed.ModeNames),
                Batch: a.Int("batch", 32),
                Batches: a.Int("batches", 4),
                Threads: a.Int("threads", 2),
                Rounds: a.Int("rounds", 5),
                OutPath: a.OptionalString("out"));
            a.RejectUnknown();
            return OnnxSpeed.Run(settings);
        }

        default:
            Console.Error.WriteLine($"Unknown command '{command}'; expected compare, worker, soak, matmul or onnx.");
            return 2;
    }
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
