using MLNet.PromptTuning.Tests.Interop;
using MLNet.PromptTuning.Tests.Reliability;
using MLNet.PromptTuning.Tests.Runtime;

namespace MLNet.PromptTuning.Tests;

/// <summary>
/// The test assembly doubles as a small console program, so a test can load a saved model in a fresh process
/// (<c>dotnet MLNet.PromptTuning.Tests.dll score-saved-model …</c>) with the same dependencies as the tests, and so
/// the reliability harnesses can run fuzz cases and kill-during-save writers in child processes.
/// The test SDK's generated empty entry point is turned off in the project file.
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == SavedModelScorer.Command)
        {
            return SavedModelScorer.Run(args.Skip(1).ToArray());
        }

        switch (args.FirstOrDefault())
        {
            case TorchNativeProbe.Command when args.Length == 1:
                return TorchNativeProbe.Run();
            case FuzzChild.Command:
                return FuzzChild.Run(args[1..]);
            case FuzzCommand.Command:
                return FuzzCommand.Run(args[1..]);
            case KillDuringSave.Command:
                return KillDuringSave.RunChild(args[1..]);
            case KillCommand.Command:
                return KillCommand.Run(args[1..]);
        }

        Console.Error.WriteLine(
            $"Usage: {SavedModelScorer.Command} <model.zip> <rows.tsv> <image-folder> <output.txt> <threads>\n" +
            $"   or: {TorchNativeProbe.Command}\n" +
            $"   or: {FuzzCommand.Command} [--cases-per-format N] [--seed S] [--parallel P] " +
            "[--formats safetensors,npy,npz,pth,model,adapter]\n" +
            $"   or: {KillCommand.Command} --target NAME [--kills 20] [--seed 1]");
        return 2;
    }
}
