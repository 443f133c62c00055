using System.Globalization;
using Microsoft.ML;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Methods.FullFineTune;
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
        new("adapter-folder", "adapters", SaveAdapter, ReadAdapters, AdapterStagingFolders),
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

    // One block: a full fine-tuning adapter carries its backbone, about 2.4 MB, so kills land inside saves too; every
    // round loads every folder saved so far, so the adapter is kept smaller than the backbone above.
    private static readonly VitConfig AdapterConfig = Config with { Depth = 1 };

    private const string GenerationPrefix = "gen-";

    private static VisionTransformer? _backbone;
    private static TinyPromptViTModel? _model;

    private static PromptViTTransformer? _adapterModel;

    private static VisionTransformer? _adapterBackbone;

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

    /// <summary>
    /// <see cref="PromptViTTransformer.SaveAdapter"/> of a model whose every trained value (backbone, method, head)
    /// equals the generation, into a new folder <c>gen-NNNNNN</c> under the path: an adapter folder is never
    /// replaced (SaveAdapter refuses a non-empty one), so a user keeps one folder per version, as this does. The
    /// child restarts at the generation a killed save was writing, so its first save goes to the same folder and must
    /// remove the killed save's staging folder.
    /// </summary>
    private static void SaveAdapter(string path, int generation)
    {
        _adapterModel ??= TinyAdapters.Create(new VisionTransformer(AdapterConfig), new FullFineTuneOptions(), 1,
            ownsBackbone: true);
        using (torch.no_grad())
        {
            foreach (var (_, parameter) in _adapterModel.Model.named_parameters())
            {
                parameter.fill_(generation);
            }
        }

        _adapterModel.SaveAdapter(AdapterFolderOf(path, generation));
    }

    /// <summary>
    /// Loads every adapter folder under the path (staging folders aside) and checks that each is complete and holds
    /// its generation everywhere; returns the newest generation.
    /// </summary>
    private static int ReadAdapters(string path)
    {
        _adapterBackbone ??= new VisionTransformer(AdapterConfig);
        var newest = 0;
        var folders = Directory.Exists(path)
            ? Directory.GetDirectories(path, GenerationPrefix + "*")
            : [];
        foreach (var folder in folders)
        {
            var generation = int.Parse(Path.GetFileName(folder)[GenerationPrefix.Length..],
                CultureInfo.InvariantCulture);
            using var loaded = PromptViTTransformer.LoadAdapter(new MLContext(seed: 1), folder, _adapterBackbone);
            foreach (var (name, tensor) in loaded.Model.state_dict())
            {
                if (!tensor.eq(generation).all().item<bool>())
                {
                    throw new InvalidDataException(
                        $"'{folder}': '{name}' does not hold generation {generation} everywhere.");
                }
            }

            newest = Math.Max(newest, generation);
        }

        return newest > 0
            ? newest
            : throw new InvalidDataException($"'{path}' holds no adapter folder.");
    }

    private static List<string> AdapterStagingFolders(string path) =>
        Directory.Exists(path) ? Directory.EnumerateDirectories(path, $".{GenerationPrefix}*.tmp").ToList() : [];

    private static string AdapterFolderOf(string path, int generation) =>
        Path.Combine(path, GenerationPrefix + generation.ToString("D6", CultureInfo.InvariantCulture));
}
