using Xunit;
using Xunit.Abstractions;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// The project's own fuzzing of the checkpoint formats and the kill-during-save test, at CI size. Each fuzz case runs
/// in a child process; see docs/reliability.md for what is asserted and for the long campaign.
/// </summary>
public sealed class ReliabilityTests(ITestOutputHelper output)
{
    private const int Seed = 20_251_203;

    [Theory]
    [InlineData("safetensors", 1200)]
    [InlineData("npz", 900)]
    [InlineData("npy", 600)]
    [InlineData("pth", 450)]
    [InlineData("model", 300)]
    [InlineData("adapter", 400)]
    public void DamagedCheckpointsFailCleanly(string format, int cases)
    {
        var findings = Path.Combine(Path.GetTempPath(), $"fuzz-findings-ci-{format}");
        var plan = FuzzCommand.Plan(cases, [format]);
        var report = FuzzCampaign.Run(plan, Seed, batchSize: 300, parallelism: 2, findings);
        output.WriteLine(report.Summary());

        Assert.Equal(cases, report.Results.Count);
        Assert.True(!report.Findings.Any(), report.Summary());
        // The campaign must reach every outcome a format allows, or its mutations are too timid to prove much.
        Assert.Contains(report.Results, r => r.Outcome == FuzzOutcome.Refused);
        Assert.Contains(report.Results, r => r.Outcome == FuzzOutcome.LoadedSame);
    }

    [Theory]
    [InlineData("backbone-checkpoint")]
    [InlineData("model-zip")]
    [InlineData("training-checkpoint")]
    public void KilledSavesLeaveTheOldOrTheNewFile(string target)
    {
        var directory = Directory.CreateTempSubdirectory("kill-save-").FullName;
        try
        {
            var report = KillDuringSave.Run(SaveTargets.Get(target), kills: 8, seed: Seed, directory,
                maxDelay: TimeSpan.FromMilliseconds(400));
            output.WriteLine(report.ToString());
            Assert.Equal(8, report.Kills);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void KilledAdapterSavesLeaveOnlyCompleteAdapterFolders()
    {
        var directory = Directory.CreateTempSubdirectory("kill-adapter-").FullName;
        try
        {
            // Each round checks that every adapter folder present loads with its generation, and that the next save
            // to the killed save's folder removes its staging folder.
            var report = KillDuringSave.Run(SaveTargets.Get("adapter-folder"), kills: 8, seed: Seed, directory,
                maxDelay: TimeSpan.FromMilliseconds(400));
            output.WriteLine(report.ToString());
            Assert.Equal(8, report.Kills);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
