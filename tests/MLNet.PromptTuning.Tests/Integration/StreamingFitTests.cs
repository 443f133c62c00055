using Microsoft.ML;
using MLNet.PromptTuning.Tests.Interop;
using MLNet.PromptTuning.Training;
using Xunit;

namespace MLNet.PromptTuning.Tests.Integration;

/// <summary>
/// Fit reads images in bounded windows from the data view: with the same seed and thread count, a run that keeps every
/// image, one that keeps none and one with more decoding threads train bit-identical models, and cancel/resume stays
/// exact when images are re-read every epoch.
/// </summary>
public sealed class StreamingFitTests
{
    [Fact]
    public void CachedUncachedAndMultiThreadedFitsAreBitIdentical()
    {
        using var fixture = PromptViTFixture.Create(10);
        var ml = new MLContext(seed: 1);
        var data = PromptViTTrainerTests.Prepare(ml, fixture, fixture.LoadRows(ml));

        (string Scores, string History) Train(int cacheMegabytes, int threads)
        {
            var options = fixture.Options(epochs: 2);
            options.ValidationSetFraction = 0.3f;
            options.ImageCacheMegabytes = cacheMegabytes;
            options.DataLoadingThreads = threads;
            options.ReadWindowRows = 3; // several windows per epoch, each a new cursor sweep
            using var model = ml.MulticlassClassification.Trainers.PromptViT(options).Fit(data);
            string scores = string.Join(";",
                ScoreReading.ReadVectors(model.Transform(data), "Score").Select(ScoreReading.Bits));
            string history = string.Join(";", model.TrainingResult!.History.Select(e =>
                $"{BitConverter.DoubleToInt64Bits(e.TrainLoss)}/{e.ValidationAccuracy}"));
            return (scores, history);
        }

        var cached = Train(cacheMegabytes: 1024, threads: 1);
        Assert.Equal(cached, Train(cacheMegabytes: 0, threads: 1));
        Assert.Equal(cached, Train(cacheMegabytes: 0, threads: 3));
    }

    [Fact]
    public void CancelAndResumeWithoutCacheEqualsAnUninterruptedRun()
    {
        using var fixture = PromptViTFixture.Create(8);
        var ml = new MLContext(seed: 1);
        var data = PromptViTTrainerTests.Prepare(ml, fixture, fixture.LoadRows(ml));
        var options = fixture.Options(epochs: 3);
        options.ImageCacheMegabytes = 0;
        options.DataLoadingThreads = 2;
        options.ReadWindowRows = 4;
        using var uninterrupted = ml.MulticlassClassification.Trainers.PromptViT(options).Fit(data);

        using var cancel = new CancellationTokenSource();
        int steps = 0;
        var interrupted = options with
        {
            CheckpointDirectory = Path.Combine(fixture.Images.Folder, "checkpoints"),
            CancellationToken = cancel.Token,
            Progress = new Reporter(r =>
            {
                if (r.Phase == TrainingPhase.Training && ++steps == 5)
                {
                    cancel.Cancel(); // step 5 is the first of epoch 3: epochs 1 and 2 are checkpointed
                }
            }),
        };
        Assert.ThrowsAny<OperationCanceledException>(() =>
            ml.MulticlassClassification.Trainers.PromptViT(interrupted).Fit(data));

        var resume = interrupted with { CancellationToken = CancellationToken.None, Progress = null };
        using var resumed = ml.MulticlassClassification.Trainers.PromptViT(resume).Fit(data);
        Assert.Equal(2, resumed.TrainingResult!.ResumedFromEpoch);
        Assert.Equal(ScoreReading.ReadVectors(uninterrupted.Transform(data), "Score").Select(ScoreReading.Bits),
            ScoreReading.ReadVectors(resumed.Transform(data), "Score").Select(ScoreReading.Bits));
    }

    private sealed class Reporter(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
