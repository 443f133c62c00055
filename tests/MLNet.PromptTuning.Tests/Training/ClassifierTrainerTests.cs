using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Training;
using TorchSharp;
using Xunit;
using MLNet.PromptTuning.Tests.TestSupport;

namespace MLNet.PromptTuning.Tests.Training;

[Collection(TorchTrainingCollection.Name)]
public sealed class ClassifierTrainerTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mlnpt-trainer-" + Guid.NewGuid().ToString("N"));

    private static TrainingOptions Base => new()
    {
        MaxEpoch = 3,
        BatchSize = 4,
        LearningRate = 0.05,
        WarmupEpochs = 1,
        Device = "cpu",
        Seed = 7,
        LogEveryNSteps = 0,
    };

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public void SameSeedGivesBitIdenticalWeights()
    {
        var options = Base with
        {
            RandomResizedCrop = true,
            HorizontalFlip = true,
            LabelSmoothing = 0.1,
            NumberOfThreads = torch.get_num_threads(),
        };

        var first = TrainToy(options);
        var second = TrainToy(options);
        var otherSeed = TrainToy(options with { Seed = 8 });

        ToyData.AssertSameWeights(first, second);
        Assert.False(first["head.weight"].AsSpan().SequenceEqual(otherSeed["head.weight"]));
    }

    [Fact]
    public void ReleasingMemoryChangesNoResult()
    {
        var options = Base with { HorizontalFlip = true, NumberOfThreads = torch.get_num_threads() };

        var everyStep = TrainToy(options with { ReleaseMemoryEveryNSteps = 1 });
        var never = TrainToy(options with { ReleaseMemoryEveryNSteps = 0 });

        ToyData.AssertSameWeights(never, everyStep);
        Assert.Equal(OperatingSystem.IsLinux(), MLNet.PromptTuning.Runtime.MemoryRelease.TrimNativeHeap());
    }

    [Theory]
    [InlineData(OptimizerKind.AdamW)]
    [InlineData(OptimizerKind.Sgd)]
    public void ResumingFromACheckpointMatchesAnUninterruptedRun(OptimizerKind optimizer)
    {
        var options = Base with
        {
            Optimizer = optimizer,
            MaxEpoch = 4,
            WeightDecay = 0.05,
            RandomResizedCrop = true,
            HorizontalFlip = true,
            GradientClipNorm = 1.0,
            MixupAlpha = 0.8,       // its draws depend on the global step only, so resuming must not change them
            MixupProbability = 0.5,
            LabelSmoothing = 0.1,
        };
        var checkpointed = options with { CheckpointDirectory = Path.Combine(_root, optimizer.ToString()) };
        using var train = ToyData.Separable(10, seed: 1, size: 6);
        using var validation = ToyData.Separable(6, seed: 2, size: 6);

        // Uninterrupted reference.
        var (reference, referenceResult) = TrainToyOn(options, train, validation);

        // Interrupted at the start of epoch 3, after the epoch-2 checkpoint.
        using (var cts = new CancellationTokenSource())
        {
            var progress = new SyncProgress<TrainingProgress>(p =>
            {
                if (p.Phase == TrainingPhase.Training && p.Epoch == 3)
                {
                    cts.Cancel();
                }
            });
            Assert.ThrowsAny<OperationCanceledException>(() =>
                TrainToyOn(checkpointed, train, validation, progress, cts.Token));
        }

        torch.rand(37); // disturb the global generator: resume must restore it
        var (resumed, resumedResult) = TrainToyOn(checkpointed, train, validation);

        ToyData.AssertSameWeights(reference, resumed);
        Assert.Equal(2, resumedResult.ResumedFromEpoch);
        Assert.Equal(
            referenceResult.History.Select(h =>
                (h.Epoch, h.TrainLoss, h.TrainAccuracy, h.LearningRate, h.ValidationAccuracy)),
            resumedResult.History.Select(h =>
                (h.Epoch, h.TrainLoss, h.TrainAccuracy, h.LearningRate, h.ValidationAccuracy)));
    }

    [Fact]
    public void OnlyTheListedParameterGroupsChange()
    {
        torch.manual_seed(3);
        using var model = new ToyClassifier(1, 4, 2);
        using var train = ToyData.Separable(8, seed: 3);
        var before = ToyData.Weights(model.Module);

        new ClassifierTrainer(Base).Train(model, train);

        var after = ToyData.Weights(model.Module);
        foreach (var name in new[] { "frozen.weight", "frozen.bias", "unlisted" })
        {
            Assert.True(before[name].AsSpan().SequenceEqual(after[name]), $"{name} changed.");
        }

        foreach (var name in new[] { "prompt", "head.weight", "head.bias" })
        {
            Assert.False(before[name].AsSpan().SequenceEqual(after[name]), $"{name} did not change.");
        }
    }

    [Fact]
    public void AdamWDecaysOnlyGroupsThatAskForIt()
    {
        const double lr = 0.1, wd = 0.5;
        torch.manual_seed(3);
        using var model = new ToyClassifier(1, 4, 2, decayProbes: true);
        using var train = ToyData.Separable(8, seed: 3);
        var options = Base with
        {
            MaxEpoch = 1,
            LearningRate = lr,
            WeightDecay = wd,
            WarmupEpochs = 0,
            Schedule = LearningRateSchedule.Constant,
        };

        new ClassifierTrainer(options).Train(model, train);

        // Zero gradient: AdamW's update is exactly 0, so only the decoupled decay p *= 1 - lr·wd acts (2 steps).
        float expected = 1f;
        expected *= (float)(1 - lr * wd);
        expected *= (float)(1 - lr * wd);
        Assert.All(model.Net.DecayOn!.data<float>().ToArray(), v => Assert.Equal(expected, v));
        Assert.All(model.Net.DecayOff!.data<float>().ToArray(), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void SgdDecaysOnlyGroupsThatAskForIt()
    {
        torch.manual_seed(3);
        using var model = new ToyClassifier(1, 4, 2, decayProbes: true);
        using var train = ToyData.Separable(8, seed: 3);
        var options = Base with { Optimizer = OptimizerKind.Sgd, MaxEpoch = 1, WeightDecay = 0.5, WarmupEpochs = 0 };

        new ClassifierTrainer(options).Train(model, train);

        Assert.All(model.Net.DecayOn!.data<float>().ToArray(), v => Assert.True(v < 1f));
        Assert.All(model.Net.DecayOff!.data<float>().ToArray(), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void ReportedLearningRatesFollowTheSchedule()
    {
        torch.manual_seed(3);
        using var model = new ToyClassifier(1, 4, 2);
        using var train = ToyData.Separable(10, seed: 3); // 3 steps per epoch, the last one partial
        var rates = new List<(long Step, double Rate)>();
        var progress = new SyncProgress<TrainingProgress>(p =>
        {
            if (p.Phase == TrainingPhase.Training)
            {
                rates.Add((p.Step, p.LearningRate));
            }
        });

        new ClassifierTrainer(Base with { MaxEpoch = 4, WarmupEpochs = 1 }, progress: progress).Train(model, train);

        var scheduler = new LearningRateScheduler(LearningRateSchedule.Cosine, 1, 4, 3);
        Assert.Equal(Enumerable.Range(1, 12).Select(i => (long)i), rates.Select(r => r.Step));
        for (int i = 0; i < 12; i++)
        {
            Assert.Equal(0.05 * scheduler.Factor(i / 3, i % 3), rates[i].Rate, 15);
        }

        Assert.Equal(0.05 / 3, rates[0].Rate, 15);
        Assert.Equal(0.05 * 0.5 * (1 + Math.Cos(Math.PI * 8 / 9)), rates[11].Rate, 15);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    [InlineData(0.3)]
    public void LabelSmoothingLossMatchesAHandComputation(double smoothing)
    {
        var logits = new[] { 1.0f, -0.5f, 0.25f };
        var labels = new long[] { 0, 1, 2, 2 };
        using var model = new BiasClassifier(logits);
        using var data = ImageTensorDataset.FromPixels(new byte[16], labels, 1, 2, 2);
        double? loss = null;
        var progress = new SyncProgress<TrainingProgress>(p => loss ??= p.Loss);

        new ClassifierTrainer(Base with { MaxEpoch = 1, LearningRate = 0, LabelSmoothing = smoothing },
            progress: progress)
            .Train(model, data);

        double logSumExp = Math.Log(logits.Sum(z => Math.Exp(z)));
        double[] logp = logits.Select(z => z - logSumExp).ToArray();
        double expected = labels.Average(y => -(1 - smoothing) * logp[y] - smoothing / 3 * logp.Sum());
        Assert.NotNull(loss);
        Assert.Equal(expected, loss!.Value, 5);
    }

    [Fact]
    public void GradientClippingBoundsTheGlobalUpdateNorm()
    {
        // Logits = bias, labels all 1: the mean cross-entropy gradient is softmax(bias) - e1, norm ≈ 1.41.
        var options = Base with
        {
            Optimizer = OptimizerKind.Sgd,
            Momentum = 0,
            WeightDecay = 0,
            LearningRate = 1,
            WarmupEpochs = 0,
            Schedule = LearningRateSchedule.Constant,
            MaxEpoch = 1,
        };

        double UpdateNorm(double clip)
        {
            using var model = new BiasClassifier(new[] { 3f, -3f });
            using var data = ImageTensorDataset.FromPixels(new byte[16], new long[] { 1, 1, 1, 1 }, 1, 2, 2);
            new ClassifierTrainer(options with { GradientClipNorm = clip }).Train(model, data);
            var b = model.Bias.data<float>().ToArray();
            return Math.Sqrt(Math.Pow(b[0] - 3, 2) + Math.Pow(b[1] + 3, 2));
        }

        var p0 = Math.Exp(3) / (Math.Exp(3) + Math.Exp(-3));
        Assert.Equal(Math.Sqrt(2) * p0, UpdateNorm(0), 5); // unclipped
        Assert.Equal(0.5, UpdateNorm(0.5), 5);
        Assert.Equal(Math.Sqrt(2) * p0, UpdateNorm(10), 5); // a loose bound changes nothing
    }

    [Fact]
    public void EarlyStoppingStopsAndRestoresTheBestEpoch()
    {
        // Validation accuracy per epoch: 0, 1, 0, 0, ... -> best epoch 2, stop after epoch 4 with patience 2.
        using var model = new ScriptedClassifier(false, true, false, false, false, false);
        using var train = ImageTensorDataset.FromPixels(new byte[16], new long[] { 0, 1, 1, 1 }, 1, 2, 2);
        using var validation = ImageTensorDataset.FromPixels(new byte[16], new long[] { 0, 0, 0, 0 }, 1, 2, 2);
        byte[]? atEpoch2 = null;
        byte[]? atEpoch4 = null;
        var progress = new SyncProgress<TrainingProgress>(p =>
        {
            if (p.Phase == TrainingPhase.Validation && p.Epoch == 2)
            {
                atEpoch2 = ToyData.TensorBytes(model.Bias);
            }

            if (p.Phase == TrainingPhase.Validation && p.Epoch == 4)
            {
                atEpoch4 = ToyData.TensorBytes(model.Bias);
            }
        });
        var logger = new ListLogger();
        var options = Base with { MaxEpoch = 6, EarlyStoppingPatience = 2, WarmupEpochs = 0 };

        var result = new ClassifierTrainer(options, logger, progress).Train(model, train, validation);

        Assert.True(result.StoppedEarly);
        Assert.True(result.RestoredBestState);
        Assert.Equal(4, result.History.Count);
        Assert.Equal(new double?[] { 0, 1, 0, 0 }, result.History.Select(h => h.ValidationAccuracy));
        Assert.Equal(2, result.BestEpoch);
        Assert.Equal(1.0, result.BestValidationAccuracy);
        Assert.False(atEpoch2!.AsSpan().SequenceEqual(atEpoch4!));
        Assert.True(atEpoch2.AsSpan().SequenceEqual(ToyData.TensorBytes(model.Bias)));
        Assert.Contains(logger.Lines, l =>
            l.Message.Contains("Early stopping after epoch 4", StringComparison.Ordinal));
    }

    [Fact]
    public void WithoutEarlyStoppingTheLastEpochIsKept()
    {
        using var model = new ScriptedClassifier(false, true, false);
        using var train = ImageTensorDataset.FromPixels(new byte[16], new long[] { 0, 1, 1, 1 }, 1, 2, 2);
        using var validation = ImageTensorDataset.FromPixels(new byte[16], new long[] { 0, 0, 0, 0 }, 1, 2, 2);

        var result = new ClassifierTrainer(Base).Train(model, train, validation);

        Assert.Equal(2, result.BestEpoch);
        Assert.False(result.RestoredBestState);
        Assert.False(result.StoppedEarly);
        Assert.Equal(3, result.History.Count);
    }

    [Fact]
    public void CancellationThrowsAndLeavesOnlyCompleteCheckpoints()
    {
        var dir = Path.Combine(_root, "cancel");
        torch.manual_seed(3);
        using var model = new ToyClassifier(1, 4, 2);
        using var train = ToyData.Separable(10, seed: 3);
        using var cts = new CancellationTokenSource();
        var progress = new SyncProgress<TrainingProgress>(p =>
        {
            if (p.Phase == TrainingPhase.Training && p.Epoch == 2 && p.Step == 5)
            {
                cts.Cancel();
            }
        });

        Assert.ThrowsAny<OperationCanceledException>(
            () => new ClassifierTrainer(Base with { CheckpointDirectory = dir }, progress: progress).Train(model, train,
                null, cts.Token));

        Assert.Equal(new[] { TrainingCheckpoint.FileName }, Directory.GetFiles(dir).Select(Path.GetFileName));

        var fresh = Path.Combine(_root, "cancel-early");
        using var early = new CancellationTokenSource();
        early.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(
            () => new ClassifierTrainer(Base with { CheckpointDirectory = fresh }).Train(model, train, null,
                early.Token));
        Assert.True(!Directory.Exists(fresh) || Directory.GetFiles(fresh).Length == 0);
    }

    [Fact]
    public void NoTensorsLeakAcrossStepsEpochsOrRuns()
    {
        torch.manual_seed(3);
        using var model = new ToyClassifier(1, 4, 2, dropout: 0.1, auxiliaryLoss: true);
        using var train = ToyData.Separable(10, seed: 3, size: 6);
        using var validation = ToyData.Separable(6, seed: 4, size: 6);
        var live = new List<long>();
        var progress = new SyncProgress<TrainingProgress>(p =>
        {
            if (p.Phase == TrainingPhase.Training)
            {
                live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            }
        });
        var options = Base with
        {
            MaxEpoch = 3,
            CheckpointDirectory = Path.Combine(_root, "leak"),
            EarlyStoppingPatience = 5,
            RandomResizedCrop = true,
            HorizontalFlip = true,
            GradientClipNorm = 1,
        };

        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        new ClassifierTrainer(options, progress: progress).Train(model, train, validation);
        var after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        new ClassifierTrainer(options with { Optimizer = OptimizerKind.Sgd, CheckpointDirectory = null }).Train(model,
            train, validation);
        var afterSecondRun = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        // Steady within every epoch; from epoch 2 on, the early-stopping snapshot of the 3 trainable tensors is held.
        Assert.Equal(9, live.Count);
        Assert.Single(live.Take(3).Distinct());
        Assert.Single(live.Skip(3).Distinct());
        Assert.Equal(3, live[3] - live[0]);
        Assert.Equal(before, after);
        Assert.Equal(before, afterSecondRun);
    }

    [Fact]
    public void LearnsASeparableProblem()
    {
        // A threshold on trained weights: fix the thread count rather than inherit one.
        using var threads = new TorchThreadScope();
        torch.manual_seed(5);
        using var model = new ToyClassifier(1, 4, 2, hidden: 16);
        using var train = ToyData.Separable(64, seed: 5);
        using var validation = ToyData.Separable(32, seed: 6);
        var options = Base with { MaxEpoch = 6, BatchSize = 8, LearningRate = 0.05 };

        var result = new ClassifierTrainer(options).Train(model, train, validation);

        Assert.True(result.History[^1].TrainLoss < result.History[0].TrainLoss);
        Assert.True(result.History[^1].ValidationAccuracy >= 0.95,
            $"validation accuracy {result.History[^1].ValidationAccuracy}");
        var predictor = new ClassifierPredictor(model, "cpu", batchSize: 5);
        Assert.Equal(result.History[^1].ValidationAccuracy!.Value, predictor.Accuracy(validation), 12);
    }

    [Fact]
    public void PredictorReturnsProbabilitiesInDatasetOrder()
    {
        torch.manual_seed(5);
        using var model = new ToyClassifier(1, 4, 3);
        using var data = ToyData.Separable(11, seed: 5, size: 8);
        var predictor = new ClassifierPredictor(model, "cpu", batchSize: 4);
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        using (var scores = predictor.PredictScores(data))
        {
            using var scope = torch.NewDisposeScope();
            Assert.Equal(new long[] { 11, 3 }, scores.shape);
            Assert.True(scores.sum(1).allclose(torch.ones(11), atol: 1e-6));
            using var single = predictor.PredictScores(data.Images[5..6]);
            Assert.True(single.allclose(scores[5..6], atol: 1e-6));
        }

        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void BFloat16CastsTheInputBatchAndTrains()
    {
        torch.manual_seed(5);
        using var model = new ToyClassifier(1, 4, 2);
        using var train = ToyData.Separable(8, seed: 5);

        var result = new ClassifierTrainer(Base with { MaxEpoch = 1,
            Precision = TrainingPrecision.BFloat16 }).Train(model, train);

        Assert.All(model.InputTypes, t => Assert.Equal(torch.ScalarType.BFloat16, t));
        Assert.True(double.IsFinite(result.History[0].TrainLoss));
    }

    [Fact]
    public void ProgressAndLogsDescribeTheRun()
    {
        torch.manual_seed(5);
        using var model = new ToyClassifier(1, 4, 2, auxiliaryLoss: true);
        using var train = ToyData.Separable(10, seed: 5);
        using var validation = ToyData.Separable(4, seed: 6);
        var reports = new List<TrainingProgress>();
        var logger = new ListLogger();

        var result = new ClassifierTrainer(Base with { LogEveryNSteps = 2 }, logger,
            new SyncProgress<TrainingProgress>(reports.Add))
            .Train(model, train, validation);

        Assert.Equal(9, reports.Count(r => r.Phase == TrainingPhase.Training));
        Assert.Equal(3, reports.Count(r => r.Phase == TrainingPhase.Validation));
        Assert.Equal(TrainingPhase.Completed, reports[^1].Phase);
        Assert.All(reports.Where(r => r.Phase == TrainingPhase.Training), r =>
        {
            Assert.Equal(9, r.TotalSteps);
            Assert.True(r.Loss > 0);
            Assert.True(r.AuxiliaryLosses["prompt_l2"] > 0);
            Assert.True(r.ImagesPerSecond > 0);
            Assert.NotNull(r.EstimatedTimeRemaining);
        });
        Assert.Equal(TimeSpan.Zero, reports.Last(r => r.Phase == TrainingPhase.Training).EstimatedTimeRemaining);
        Assert.True(result.History.All(h => h.AuxiliaryLosses.ContainsKey("prompt_l2")));
        Assert.All(reports.Where(r => r.Phase == TrainingPhase.Training && r.Epoch == 1), r =>
            Assert.Null(r.ValidationAccuracy));
        Assert.All(reports.Where(r => r.Phase == TrainingPhase.Training && r.Epoch == 3),
            r => Assert.Equal(result.History[1].ValidationAccuracy, r.ValidationAccuracy));
        Assert.Equal(result.History[^1].ValidationAccuracy, reports[^1].ValidationAccuracy);
        Assert.Contains(logger.Lines, l =>
            l.Message.StartsWith("Training on 10 images (3 steps of 4 per epoch)", StringComparison.Ordinal));
        Assert.Equal(3, logger.Lines.Count(l => l.Message.Contains("validation accuracy", StringComparison.Ordinal)));
        // steps 2, 4, 6, 8
        Assert.Equal(4, logger.Lines.Count(l => l.Message.Contains(" step ", StringComparison.Ordinal)));
    }

    [Fact]
    public void RejectsDataAndSettingsThatCannotWork()
    {
        torch.manual_seed(5);
        using var model = new ToyClassifier(1, 4, 2);
        using var threeClasses = ImageTensorDataset.FromPixels(new byte[48], new long[] { 0, 1, 2 }, 1, 4, 4);
        using var train = ToyData.Separable(4, seed: 5);
        using var empty = ImageTensorDataset.FromPixels(Array.Empty<byte>(), Array.Empty<long>(), 1, 4, 4);

        var labels = Assert.Throws<ArgumentException>(() => new ClassifierTrainer(Base).Train(model, threeClasses));
        Assert.Contains("label 2", labels.Message);
        Assert.Contains("2 classes", labels.Message);

        var none = Assert.Throws<ArgumentException>(() => new ClassifierTrainer(Base).Train(model, empty));
        Assert.Contains("empty", none.Message);

        var early = Assert.Throws<NotSupportedException>(
            () => new ClassifierTrainer(Base with { EarlyStoppingPatience = 2 }).Train(model, train));
        Assert.Contains("EarlyStoppingPatience", early.Message);

        var auto = Assert.Throws<NotSupportedException>(
            () => new ClassifierTrainer(Base with { Precision = TrainingPrecision.Auto }).Train(model, train));
        Assert.Contains("Precision = Auto", auto.Message);

        if (!torch.cuda.is_available())
        {
            var cuda = Assert.Throws<NotSupportedException>(() =>
                new ClassifierTrainer(Base with { Device = "cuda:0" }).Train(model, train));
            Assert.Contains("Device is 'cuda:0'", cuda.Message);
        }
    }

    [Fact]
    public void ACheckpointFromOtherSettingsIsRejectedByName()
    {
        var dir = Path.Combine(_root, "mismatch");
        torch.manual_seed(5);
        using var model = new ToyClassifier(1, 4, 2);
        using var train = ToyData.Separable(8, seed: 5);
        new ClassifierTrainer(Base with { MaxEpoch = 1, CheckpointDirectory = dir }).Train(model, train);

        var e = Assert.Throws<InvalidOperationException>(
            () => new ClassifierTrainer(Base with { MaxEpoch = 1, CheckpointDirectory = dir,
                LearningRate = 0.1 }).Train(model, train));
        Assert.Contains("LearningRate = 0.05", e.Message);
        Assert.Contains("LearningRate = 0.1", e.Message);

        // Opting out of resume trains from scratch and overwrites the checkpoint.
        var fresh = new ClassifierTrainer(Base with { MaxEpoch = 1, CheckpointDirectory = dir, LearningRate = 0.1,
            ResumeFromCheckpoint = false })
            .Train(model, train);
        Assert.Equal(0, fresh.ResumedFromEpoch);
    }

    [Fact]
    public void ResumingAFinishedRunReturnsItsHistory()
    {
        var dir = Path.Combine(_root, "finished");
        var options = Base with { MaxEpoch = 2, CheckpointDirectory = dir };
        var (weights, result) = TrainToyOn(options, ToyData.Separable(8, seed: 5), null);

        var (again, againResult) = TrainToyOn(options, ToyData.Separable(8, seed: 5), null);

        ToyData.AssertSameWeights(weights, again);
        Assert.Equal(2, againResult.ResumedFromEpoch);
        Assert.Equal(result.History.Select(h => h.TrainLoss), againResult.History.Select(h => h.TrainLoss));
    }

    private static Dictionary<string, byte[]> TrainToy(TrainingOptions options)
    {
        using var train = ToyData.Separable(10, seed: 1, size: 6);
        return TrainToyOn(options, train, null).Weights;
    }

    private static (Dictionary<string, byte[]> Weights, TrainingResult Result) TrainToyOn(
        TrainingOptions options, ImageTensorDataset train, ImageTensorDataset? validation,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        torch.manual_seed(1);
        using var model = new ToyClassifier(1, 4, 2, dropout: 0.2, auxiliaryLoss: true);
        var result = new ClassifierTrainer(options, progress: progress).Train(model, train, validation,
            cancellationToken);
        return (ToyData.Weights(model.Module), result);
    }
}
