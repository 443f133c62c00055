using Microsoft.ML;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Tests.Interop;
using MLNet.PromptTuning.Tests.TestSupport;

namespace MLNet.PromptTuning.Tests.Integration;

/// <summary>A tiny backbone saved as safetensors plus a small PNG image set, in a temporary folder.</summary>
internal sealed class PromptViTFixture : IDisposable
{
    // Training with Options.NumberOfThreads sets libtorch's process-wide count; the fixture fixes it for the test
    // and puts the previous count back when disposed, so no later test inherits it.
    private readonly TorchThreadScope _threads = new(TorchThreadScope.Fixed);

    private PromptViTFixture(string backbonePath, TestImageSet images)
    {
        BackbonePath = backbonePath;
        Images = images;
    }

    public string BackbonePath { get; }

    public TestImageSet Images { get; }

    public static PromptViTFixture Create(int imageCount = 12, int channels = 3, int width = 10, int height = 9)
    {
        var images = TestImageSet.Create(imageCount, width, height);
        string path = Path.Combine(images.Folder, "backbone.safetensors");
        using (var backbone = TinyModels.Backbone(channels: channels))
        {
            BackboneCheckpoint.Save(backbone, path);
        }

        return new PromptViTFixture(path, images);
    }

    public IDataView LoadRows(MLContext ml) =>
        ml.Data.LoadFromTextFile<ImageRow>(Images.WriteTsv(), hasHeader: true, separatorChar: '\t');

    /// <summary>Options for a short, deterministic run on the tiny backbone.</summary>
    public PromptViTTrainer.Options Options(string method = "vpt", int epochs = 3) => new()
    {
        BackbonePath = BackbonePath,
        Method = method,
        MaxEpoch = epochs,
        BatchSize = 4,
        LearningRate = 0.01,
        WarmupEpochs = 0,
        InferenceBatchSize = 5,
        NumberOfThreads = TorchThreadScope.Fixed,
        Seed = 3,
        MethodOptions = method == "vpt" ? new MLNet.PromptTuning.Methods.Vpt.VptOptions { PromptLength = 3 } : null,
    };

    public void Dispose()
    {
        Images.Dispose();
        _threads.Dispose();
    }
}
