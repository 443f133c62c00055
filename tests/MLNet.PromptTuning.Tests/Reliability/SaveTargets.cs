using System.Globalization;
using MLNet.PromptTuning.Backbones;
using Microsoft.ML;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Persistence;
using MLNet.PromptTuning.Training;
using TorchSharp;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>The writers the kill-during-save test covers.</summary>
internal static class SaveTargets
{
    public static IReadOnlyList<SaveTarget> All { get; } =
    [
        new("backbone-checkpoint", "backbone.safetensors", SaveBackbone, ReadBackbone),
        new("model-zip", "model.zip", SaveModelZip, ReadModelZip),
        new("training-checkpoint", TrainingCheckpoint.FileName, SaveTrainingCheckpoint, ReadTrainingCheckpoint),
        // For comparison only (kill-campaign): ML.NET's own Model.Save, which truncates the file and then writes it.
        new("model-zip-mlnet-save", "model.zip", SaveModelZipWithMLNet, ReadModelZip),
    ];

    public static SaveTarget Get(string name) =>
        All.FirstOrDefault(t => t.Name == name) ??
        throw new ArgumentException($"No save target '{name}'.", nameof(name));

    // About 11 MB: large enough that a kill often lands in the middle of a save.
    private static readonly VitConfig Config = VitVariants.Create("tiny", patchSize: 16, imageSize: 64) with
    {
        Depth = 6,
    };

    private static VisionTransformer? _backbone;
    private static TinyPromptViTModel? _model;

    /// <summary><see cref="BackboneCheckpoint.Save"/> of a backbone whose every weight equals the generation.</summary>
    private static void SaveBackbone(string path, int generation)
    {
        _backbone ??= new VisionTransformer(Config);
        using (torch.no_grad())
        {
            foreach (var (_, parameter) in _backbone.named_parameters())
            {
                parameter.fill_(generation);
            }
        }

        BackboneCheckpoint.Save(_backbone, path, metadata: new Dictionary<string, string>
        {
            ["generation"] = generation.ToString(CultureInfo.InvariantCulture),
        });
    }

    private static int ReadBackbone(string path)
    {
        using var backbone = BackboneCheckpoint.LoadBackbone(path);
        using var reader = SafeTensorsReader.Open(path);
        var generation = int.Parse(reader.Metadata["generation"], CultureInfo.InvariantCulture);
        foreach (var (name, tensor) in backbone.state_dict())
        {
            if (!tensor.eq(generation).all().item<bool>())
            {
                throw new InvalidDataException($"'{name}' does not hold generation {generation} everywhere.");
            }
        }

        return generation;
    }

    /// <summary><c>mlContext.Model.SaveAtomically</c> of a PromptViT chain whose prompt and head equal the generation.
    /// </summary>
    private static void SaveModelZip(string path, int generation)
    {
        _model ??= TinyPromptViTModel.Train();
        _model.FillTrainable(generation);
        _model.Context.Model.SaveAtomically(_model.Chain, _model.InputSchema, path);
    }

    private static void SaveModelZipWithMLNet(string path, int generation)
    {
        _model ??= TinyPromptViTModel.Train();
        _model.FillTrainable(generation);
        _model.Context.Model.Save(_model.Chain, _model.InputSchema, path);
    }

    private static int ReadModelZip(string path)
    {
        var model = new MLContext(seed: 1).Model.Load(path, out _, verifyIntegrity: true);
        try
        {
            var trainable = ModelTensors.Trainable(TinyPromptViTModel.Find(model).Model, includeBackbone: false);
            var generation = (int)trainable.Values.First().flatten()[0].item<float>();
            return trainable.All(kv => kv.Value.eq(generation).all().item<bool>())
                ? generation
                : throw new InvalidDataException($"The model's prompt and head do not all hold {generation}.");
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    // Three 4 MB tensors: a kill often lands in the middle of writing them.
    private static void SaveTrainingCheckpoint(string path, int generation)
    {
        using var checkpoint = new TrainingCheckpoint
        {
            Meta = new TrainingCheckpoint.Header { EpochsCompleted = generation },
        };
        foreach (var name in new[] { "head.weight", "optimizer.0.exp_avg", "prompt" })
        {
            checkpoint.Tensors[name] = torch.full(1 << 20, generation, torch.ScalarType.Float32);
        }

        checkpoint.Write(Path.GetDirectoryName(path)!);
    }

    private static int ReadTrainingCheckpoint(string path)
    {
        using var checkpoint = TrainingCheckpoint.TryRead(Path.GetDirectoryName(path)!) ??
                               throw new InvalidDataException($"There is no training checkpoint at '{path}'.");
        var generation = checkpoint.Meta.EpochsCompleted;
        return checkpoint.Tensors.Count == 3 && checkpoint.Tensors.Values.All(t => t.eq(generation).all().item<bool>())
            ? generation
            : throw new InvalidDataException($"The checkpoint's tensors do not all hold generation {generation}.");
    }
}
