using System.Globalization;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// The long kill-during-save run, a command of the test assembly:
/// <c>dotnet MLNet.PromptTuning.Tests.dll kill-campaign --target model-zip [--kills 20] [--seed 1]</c>. Each kill is
/// its own round in a fresh folder (a child saves at least twice, is killed at a random moment, the path is read
/// back), so a torn file is counted rather than ending the run. Prints one line per round and a total; exits 1 if any
/// round found a torn file. <c>--target model-zip-mlnet-save</c> measures ML.NET's own <c>Model.Save</c> for
/// comparison.
/// </summary>
internal static class KillCommand
{
    public const string Command = "kill-campaign";

    public static int Run(string[] args)
    {
        string? target = null;
        var kills = 20;
        var seed = 1;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--target":
                    target = args[i + 1];
                    break;
                case "--kills":
                    kills = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--seed":
                    seed = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                default:
                    Console.Error.WriteLine($"Unknown option {args[i]}.");
                    return 2;
            }
        }

        if (target is null)
        {
            Console.Error.WriteLine(
                $"--target is required: one of {string.Join(", ", SaveTargets.All.Select(t => t.Name))}.");
            return 2;
        }

        var torn = 0;
        var interrupted = 0;
        for (var round = 0; round < kills; round++)
        {
            var directory = Directory.CreateTempSubdirectory("kill-campaign-").FullName;
            try
            {
                var report = KillDuringSave.Run(SaveTargets.Get(target), kills: 1, seed: seed + round, directory,
                    maxDelay: TimeSpan.FromSeconds(2));
                interrupted += report.InterruptedSaves;
                Console.Out.WriteLine($"round {round}: complete ({report})");
            }
            catch (InvalidOperationException e)
            {
                torn++;
                Console.Out.WriteLine($"round {round}: TORN: {e.Message}");
            }
            finally
            {
                Directory.Delete(directory, recursive: true);
            }
        }

        Console.Out.WriteLine(
            $"{target}: {kills} kills, {torn} left a torn or missing file, {interrupted} landed while a " +
            "temporary file existed.");
        return torn == 0 ? 0 : 1;
    }
}
