using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Training;
using TorchSharp;
using Xunit;
using MLNet.PromptTuning.Tests.TestSupport;

namespace MLNet.PromptTuning.Tests.Integration;

/// <summary>The README's "training on tensors" example, on a tiny backbone, so the documented API keeps compiling and
/// working.</summary>
public sealed class ReadmeExampleTests
{
    [Fact]
    public void LoadingASafetensorsViTAndTrainingVptDeepOnTensorsLearns()
    {
        // NumberOfThreads = 2 below sets the process-wide count; the scope puts the previous one back afterwards.
        using var threads = new TorchThreadScope();
        string path = Path.Combine(Path.GetTempPath(), $"readme-vit-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var pretrained = TinyModels.Backbone())
            {
                BackboneCheckpoint.Save(pretrained, path);
            }

            using var backbone = new VisionTransformer(TinyModels.Config());
            BackboneCheckpoint.Load(backbone, path);

            using var model = new PromptedVisionTransformer(backbone,
                new VptOptions { Depth = VptDepth.Deep, PromptLength = 4 },
                numberOfClasses: 2);
            // Two separable classes: dark images (label 0) and bright images (label 1), with noise.
            var generator = new torch.Generator(5);
            using var labels = torch.arange(32, torch.ScalarType.Int64) % 2;
            using var noise = torch.randint(0, 60, new long[] { 32, 3, 16, 16 }, generator: generator);
            using var images = (noise + labels.reshape(32, 1, 1, 1) * 150).to_type(torch.ScalarType.Byte);
            using var trainSet = new ImageTensorDataset(images, labels);

            var trainer = new ClassifierTrainer(new TrainingOptions
            {
                MaxEpoch = 8, BatchSize = 8, LearningRate = 1e-2, WarmupEpochs = 0, NumberOfThreads = 2, Device = "cpu",
            });
            TrainingResult result = trainer.Train(model, trainSet);

            Assert.Equal(8, result.History.Count);
            Assert.True(result.History[^1].TrainAccuracy > 0.9,
                string.Join("; ", result.History.Select(h => $"{h.TrainLoss:F3}/{h.TrainAccuracy:F2}")));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
