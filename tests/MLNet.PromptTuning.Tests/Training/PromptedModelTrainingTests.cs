using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Training;
using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Tests.Training;

/// <summary>The engine on the real model: a tiny frozen ViT with VPT-Deep prompts (dropout on) and a linear
/// head.</summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class PromptedModelTrainingTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mlnpt-vpt-" + Guid.NewGuid().ToString("N"));

    private static TrainingOptions Options => new()
    {
        MaxEpoch = 3,
        BatchSize = 4,
        LearningRate = 0.01,
        WarmupEpochs = 1,
        Device = "cpu",
        Seed = 3,
        LogEveryNSteps = 0,
        HorizontalFlip = true,
    };

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public void TrainsPromptsAndHeadOnlyAndHoldsNoTensorsAfterwards()
    {
        using var backbone = TinyModels.Backbone(channels: 1);
        var frozen = ToyData.Weights(backbone);
        using var train = ToyData.Separable(10, seed: 4, size: 20); // resized to 16 at batch time
        using var model = new PromptedVisionTransformer(backbone, new VptOptions { PromptLength = 2 }, 2);
        var before = ToyData.Weights(model);
        var live = new List<long>();
        var progress = new SyncProgress<TrainingProgress>(p =>
        {
            if (p.Phase == TrainingPhase.Training)
            {
                live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            }
        });
        var start = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        var result = new ClassifierTrainer(Options, progress: progress).Train(model, train);

        Assert.Equal(start, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.Single(live.Distinct());
        ToyData.AssertSameWeights(frozen, ToyData.Weights(backbone));
        var after = ToyData.Weights(model);
        Assert.All(before.Keys, name =>
            Assert.False(before[name].AsSpan().SequenceEqual(after[name]), $"{name} did not train."));
        Assert.True(result.History.All(h => double.IsFinite(h.TrainLoss)));
    }

    [Fact]
    public void ResumeIsExactOnThePromptedModel()
    {
        using var backbone = TinyModels.Backbone(channels: 1);
        using var train = ToyData.Separable(10, seed: 4, size: 16);
        var options = Options with { CheckpointDirectory = Path.Combine(_root, "vpt") };

        Dictionary<string,
            byte[]> Run(TrainingOptions o, IProgress<TrainingProgress>? progress = null,
                CancellationToken token = default)
        {
            torch.manual_seed(9);
            using var model = new PromptedVisionTransformer(backbone, new VptOptions { PromptLength = 2 }, 2);
            new ClassifierTrainer(o, progress: progress).Train(model, train, null, token);
            return ToyData.Weights(model);
        }

        var reference = Run(Options);
        using (var cts = new CancellationTokenSource())
        {
            var stop = new SyncProgress<TrainingProgress>(p =>
            {
                if (p.Epoch == 2 && p.Phase == TrainingPhase.Training)
                {
                    cts.Cancel();
                }
            });
            Assert.ThrowsAny<OperationCanceledException>(() => Run(options, stop, cts.Token));
        }

        var resumed = Run(options);

        ToyData.AssertSameWeights(reference, resumed);
    }
}
