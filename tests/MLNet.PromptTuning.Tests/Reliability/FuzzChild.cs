using System.Diagnostics;
using System.Globalization;
using MLNet.PromptTuning.Checkpoints;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// The child side of a fuzz campaign: <c>dotnet MLNet.PromptTuning.Tests.dll fuzz-batch TARGET SEED FIRST COUNT</c>.
/// It loads the undamaged seed once (warming up and recording the original digests), then runs each case, printing
/// <c>begin</c> before and one result line after it, so that the parent can name the case that crashed or hung.
/// </summary>
internal static class FuzzChild
{
    public const string Command = "fuzz-batch";

    public static int Run(string[] args)
    {
        var target = FuzzTargets.Get(args[0]);
        var campaign = int.Parse(args[1], CultureInfo.InvariantCulture);
        var first = int.Parse(args[2], CultureInfo.InvariantCulture);
        var count = int.Parse(args[3], CultureInfo.InvariantCulture);
        var directory = Directory.CreateTempSubdirectory("fuzz-").FullName;
        try
        {
            var seed = target.Seed();
            var path = Path.Combine(directory, target.FileName ?? "case" + Extension(target.Format));
            File.WriteAllBytes(path, seed);
            var original = target.Load(path);
            Console.Out.WriteLine("ready");
            for (var index = first; index < first + count; index++)
            {
                var mutation = MutationFor(target, campaign, index, seed);
                File.WriteAllBytes(path, mutation.Bytes);
                Console.Out.WriteLine($"begin\t{index}");
                Console.Out.Flush();
                Console.Out.WriteLine(RunCase(target, index, mutation, path, original).ToLine());
                Console.Out.Flush();
            }

            Console.Out.WriteLine("done");
            return 0;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The damaged file of case <paramref name="index"/>: the same in every process.</summary>
    public static Mutation MutationFor(FuzzTarget target, int campaign, int index, byte[] seed)
    {
        // FNV-1a of the target name: string.GetHashCode differs between processes.
        var hash = 2166136261u;
        foreach (var c in target.Name)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return target.Mutate(new Random(unchecked((int)hash ^ (campaign * 1_000_003) ^ (index * 7919))), seed);
    }

    public static string Extension(string format) => format switch
    {
        "safetensors" => ".safetensors",
        "pth" => ".pth",
        _ => "." + format,
    };

    private static FuzzCaseResult RunCase(
        FuzzTarget target, int index, Mutation mutation, string path, LoadDigest original)
    {
        File.Delete(FuzzTargets.PickleMarker);
        GC.Collect();
        var resident = MemoryProbe.Start();
        ResetTensorMeasure();
        var managed = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        LoadDigest? loaded = null;
        Exception? error = null;
        try
        {
            loaded = target.Load(path);
        }
        catch (Exception e)
        {
            error = e;
        }

        var milliseconds = clock.Elapsed.TotalMilliseconds;
        var managedBytes = GC.GetAllocatedBytesForCurrentThread() - managed;
        var tensorBytes = TensorMeasure();
        var residentBytes = MemoryProbe.PeakGrowth(resident);
        long size = mutation.Bytes.Length;

        var (outcome, detail) = Judge(target, mutation, original, loaded, error);
        if (File.Exists(FuzzTargets.PickleMarker))
        {
            (outcome, detail) = (FuzzOutcome.SideEffect, "a pickle payload ran: " + detail);
        }
        else if (managedBytes > FuzzBounds.Managed(size) || tensorBytes > FuzzBounds.Tensor(size) ||
                 residentBytes > FuzzBounds.Resident(size))
        {
            outcome = FuzzOutcome.OverAllocation;
        }

        return new FuzzCaseResult(target.Name, index, mutation.Kind, outcome, error?.GetType().Name ?? "",
            milliseconds, managedBytes, tensorBytes, residentBytes, size, $"{mutation.Description} => {detail}");
    }

    private static (FuzzOutcome Outcome, string Detail) Judge(
        FuzzTarget target, Mutation mutation, LoadDigest original, LoadDigest? loaded, Exception? error)
    {
        if (error is not null)
        {
            var documented = error is InvalidDataException or NotSupportedException or CheckpointMismatchException ||
                (error is ArgumentException argument && argument.GetType() == typeof(ArgumentException) &&
                 target.DocumentedArgument is { } parameter && argument.ParamName == parameter);
            var message = error.Message.Length > 300 ? error.Message[..300] : error.Message;
            return (documented ? FuzzOutcome.Refused : FuzzOutcome.UndocumentedException,
                documented ? message : error.ToString()[..Math.Min(1500, error.ToString().Length)]);
        }

        var result = loaded!.Value;
        var tensorsSame = result.Tensors == original.Tensors;
        var configSame = result.Config == original.Config;
        if (tensorsSame && configSame)
        {
            return (FuzzOutcome.LoadedSame, "loaded, identical");
        }

        if (!mutation.Detectable || (tensorsSame && mutation.ConfigMayChange))
        {
            return (FuzzOutcome.LoadedChangedUndetectable,
                tensorsSame ? "loaded, configuration text changed" : "loaded, values changed");
        }

        return (FuzzOutcome.SilentChange, tensorsSame ? "loaded with another configuration" : "loaded other values");
    }

#if FUZZ_BASELINE
    private static void ResetTensorMeasure()
    {
    }

    private static long TensorMeasure() => 0;
#else
    private static void ResetTensorMeasure() => TensorBytes.ResetLargestAllocation();

    private static long TensorMeasure() => TensorBytes.LargestAllocation;
#endif
}
