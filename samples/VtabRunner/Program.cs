// Research tool, not an example. The VTAB-1k / FGVC protocol of the prompt-tuning papers, for any backbone file and any
// list of methods. Run with --help (or no arguments) for the options. Example (a GPU machine, the CUDA backend
// built in):
//
//   dotnet run -c Release --project samples/VtabRunner -p:TorchBackend=cuda -- \
//       --vtab /data/vtab-1k --backbone ViT-B_16.npz --variant base --out runs/vtab-vitb \
//       --methods linear,vpt,tcpa,full:lr=0.0005/0.001/0.005 --device auto
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Samples;
using MLNet.PromptTuning.Samples.VtabRunner;

// With no arguments: the options, and the exit code of a usage error.
var command = RunnerCommandLine.CreateCommand();
if (SampleCommandLine.Parse(command, args.Length == 0 ? new[] { "--help" } : args, out int exitCode)
    is not { } parsed)
{
    return args.Length == 0 ? SampleCommandLine.UsageError : exitCode;
}

RunnerOptions options;
try
{
    options = RunnerOptions.From(parsed, PromptMethodRegistry.Default);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine("Run with --help for the options and their defaults.");
    return SampleCommandLine.UsageError;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // The first Ctrl+C stops after the current step; the unit resumes from its last finished epoch next time.
    e.Cancel = true;
    cancel.Cancel();
};

try
{
    using var runner = new ProtocolRunner(options, Console.Out, interactive: TrainingProgressView.OutputIsTerminal);
    return runner.Run(cancel.Token);
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("\nStopped. Run the same command again to continue.");
    return 130;
}
catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or InvalidDataException
    or NotSupportedException)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
