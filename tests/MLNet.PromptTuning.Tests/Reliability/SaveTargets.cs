using System.Globalization;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using TorchSharp;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>The writers the kill-during-save test covers.</summary>
internal static class SaveTargets
{
    public static IReadOnlyList<SaveTarget> All { get; } =
    [
        new("backbone-checkpoint", "backbone.safetensors", SaveBackbone, ReadBackbone),
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
}
