using MLNet.PromptTuning.Tests.Interop;

namespace MLNet.PromptTuning.Tests;

/// <summary>
/// The test assembly doubles as a small console program, so a test can load a saved model in a fresh process
/// (<c>dotnet MLNet.PromptTuning.Tests.dll score-saved-model …</c>) with the same dependencies as the tests.
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

        Console.Error.WriteLine(
            $"Usage: {SavedModelScorer.Command} <model.zip> <rows.tsv> <image-folder> <output.txt> <threads>");
        return 2;
    }
}
