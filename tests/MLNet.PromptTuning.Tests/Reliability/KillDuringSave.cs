using System.Diagnostics;
using System.Globalization;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// The kill-during-save test: a child process saves generation after generation to one path
/// (<c>dotnet MLNet.PromptTuning.Tests.dll kill-save TARGET PATH FIRST-GENERATION</c>, printing <c>saved g</c> after
/// each), the parent kills it with SIGKILL at a random moment, and then checks that the path holds one complete save:
/// the last generation reported or the one in progress, never a torn file. The next child's first save must remove the
/// temporary file the killed save left, and a final save by another process must leave none.
/// </summary>
internal static class KillDuringSave
{
    public const string Command = "kill-save";

    /// <summary>The child: saves generations <c>FIRST, FIRST+1, ...</c> until it is killed.</summary>
    public static int RunChild(string[] args)
    {
        var target = SaveTargets.Get(args[0]);
        var path = args[1];
        for (var generation = int.Parse(args[2], CultureInfo.InvariantCulture); ; generation++)
        {
            target.Save(path, generation);
            Console.Out.WriteLine($"saved {generation}");
            Console.Out.Flush();
        }
    }

    /// <summary>Runs <paramref name="kills"/> kill rounds against <paramref name="target"/>.</summary>
    /// <param name="target">The writer.</param>
    /// <param name="kills">How many children to kill.</param>
    /// <param name="seed">Seeds the random kill moments.</param>
    /// <param name="directory">An empty folder for the saved path.</param>
    /// <param name="maxDelay">
    /// The longest wait before a kill: kills land uniformly within one save cycle (timed on the child's second save),
    /// or within this long if a cycle is longer.
    /// </param>
    /// <exception cref="InvalidOperationException">
    /// A round found a torn or missing file, or stale temporaries.
    /// </exception>
    public static KillReport Run(SaveTarget target, int kills, int seed, string directory, TimeSpan maxDelay)
    {
        var random = new Random(seed);
        var path = Path.Combine(directory, target.FileName);
        var lastSaved = 0;
        var interrupted = 0;
        var verifiedNew = 0;
        for (var round = 0; round < kills; round++)
        {
            var leftBefore = Temporaries(directory, target).Count;
            using var child = ChildProcess.Start(Command, target.Name, path,
                (lastSaved + 1).ToString(CultureInfo.InvariantCulture));
            var reported = lastSaved;

            // Wait for two complete saves (so start-up is not what gets killed, and to time one save), then kill at a
            // uniformly random moment of the next save cycle.
            reported = ReadSaved(child, reported, TimeSpan.FromMinutes(2), untilFirst: true);
            if (leftBefore > 0 && Temporaries(directory, target).Count >= leftBefore + 1)
            {
                throw new InvalidOperationException(
                    $"Round {round}: the killed save's temporary file was not removed by the next save.");
            }

            var cycle = Stopwatch.StartNew();
            reported = ReadSaved(child, reported, TimeSpan.FromMinutes(2), untilFirst: true);
            var interval = TimeSpan.FromTicks(Math.Min(cycle.Elapsed.Ticks, maxDelay.Ticks));
            var delay = TimeSpan.FromMilliseconds(random.NextDouble() * interval.TotalMilliseconds);
            reported = ReadSaved(child, reported, delay, untilFirst: false);
            child.Kill();
            while (child.TryReadLine(TimeSpan.FromMilliseconds(200), out var line) && line is not null)
            {
                reported = Math.Max(reported, Parse(line) ?? reported);
            }

            int found;
            try
            {
                found = target.ReadGeneration(path);
            }
            catch (Exception e)
            {
                throw new InvalidOperationException(
                    $"Round {round}: after a kill, '{path}' does not hold a complete save ({e.GetType().Name}: " +
                    $"{e.Message}); the last save reported was generation {reported}.", e);
            }

            if (found != reported && found != reported + 1)
            {
                throw new InvalidOperationException(
                    $"Round {round}: '{path}' holds generation {found}, but the last save reported was {reported}.");
            }

            verifiedNew += found == reported + 1 ? 1 : 0;
            interrupted += Temporaries(directory, target).Count > 0 ? 1 : 0;
            lastSaved = found;
        }

        // One more save, by this process: it removes what the last killed save left.
        target.Save(path, lastSaved + 1);
        var stale = Temporaries(directory, target);
        if (stale.Count > 0)
        {
            throw new InvalidOperationException(
                $"Temporary files remain after a clean save: {string.Join(", ", stale)}");
        }

        if (target.ReadGeneration(path) != lastSaved + 1)
        {
            throw new InvalidOperationException("The final save did not replace the file.");
        }

        return new KillReport(kills, interrupted, verifiedNew, lastSaved);
    }

    /// <summary>Files or folders beside the target that a writer's temporary naming produces.</summary>
    public static List<string> Temporaries(string directory, SaveTarget target) =>
        target.FindTemporaries?.Invoke(Path.Combine(directory, target.FileName)) ??
        Directory.EnumerateFileSystemEntries(directory, $".{target.FileName}.*.tmp").ToList();

    private static int ReadSaved(ChildProcess child, int reported, TimeSpan duration, bool untilFirst)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            if (!child.TryReadLine(duration - clock.Elapsed, out var line))
            {
                break;
            }

            if (line is null)
            {
                var (exitCode, error) = child.WaitForExit(TimeSpan.FromSeconds(10));
                throw new InvalidOperationException($"The saving child exited by itself ({exitCode}): {error}");
            }

            reported = Math.Max(reported, Parse(line) ?? reported);
            if (untilFirst)
            {
                return reported;
            }
        }

        if (untilFirst)
        {
            throw new InvalidOperationException("The saving child did not complete a save in time.");
        }

        return reported;
    }

    private static int? Parse(string line) =>
        line.StartsWith("saved ", StringComparison.Ordinal) ? int.Parse(line[6..], CultureInfo.InvariantCulture) : null;
}

/// <summary>What a kill-during-save run saw.</summary>
/// <param name="Kills">Children killed.</param>
/// <param name="InterruptedSaves">Kills that left a temporary file, so they landed in the middle of a save.</param>
/// <param name="CompletedUnreported">
/// Kills after which the path held the save that was in progress (renamed, not yet reported).
/// </param>
/// <param name="LastGeneration">The generation the path held after the last kill.</param>
internal sealed record KillReport(int Kills, int InterruptedSaves, int CompletedUnreported, int LastGeneration);
