using System.Text.Json;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;
using TorchSharp;

namespace MLNet.PromptTuning.Persistence;

/// <summary>
/// The adapter format (PEFT's habit): a folder with <c>adapter_model.safetensors</c>, the tensors training produced
/// (method and head; the backbone too when the scope trained it), and <c>adapter_manifest.json</c>, everything else
/// needed to rebuild the model on the backbone it was trained on.
/// </summary>
internal static class AdapterFolder
{
    public const string ManifestFile = "adapter_manifest.json";
    public const string WeightsFile = "adapter_model.safetensors";
    public const string FormatName = "mlnet-prompttuning-adapter";
    public const int FormatVersion = 1;

    /// <summary>A manifest describing <paramref name="model"/>; the caller fills in the columns and classes.</summary>
    public static AdapterManifest Describe(PromptedVisionTransformer model, string backboneFingerprint,
        float pixelValueScale) => new()
    {
        Format = FormatName,
        FormatVersion = FormatVersion,
        LibraryVersion = typeof(AdapterFolder).Assembly.GetName().Version?.ToString() ?? "unknown",
        Method = model.Method.Id,
        MethodAssembly = PromptMethodRegistry.ExternalAssemblyOf(model.Method.Options),
        MethodOptions = JsonDocument.Parse(ModelJson.SerializeMethodOptions(model.Method.Options)).RootElement,
        PixelValueScale = pixelValueScale,
        Precision = model.ComputePrecision == torch.ScalarType.BFloat16
            ? TrainingPrecision.BFloat16
            : TrainingPrecision.Float32,
        Backbone = model.Backbone.Config,
        BackboneFingerprint = backboneFingerprint,
    };

    /// <summary>
    /// Writes the adapter of <paramref name="model"/> into <paramref name="directory"/> (which must not exist or be
    /// empty): into a folder beside it first, moved into place at the end, so a failure never leaves half an adapter.
    /// </summary>
    public static void Write(string directory, AdapterManifest manifest, PromptedVisionTransformer model)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        string target = Path.GetFullPath(directory);
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
        {
            throw new IOException(
                $"The adapter folder '{target}' already exists and is not empty; choose a new folder.");
        }

        string parent = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(parent);
        string staging = Path.Combine(parent, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(staging);
        try
        {
            File.WriteAllText(Path.Combine(staging, ManifestFile),
                JsonSerializer.Serialize(manifest, ModelJson.Options));
            SafeTensorsWriter.Write(Path.Combine(staging, WeightsFile),
                ModelTensors.Trainable(model, includeBackbone: model.Scope.TrainsBackbone),
                new Dictionary<string, string> { ["format"] = "pt", ["producer"] = "MLNet.PromptTuning" });
            if (Directory.Exists(target))
            {
                Directory.Delete(target);
            }

            Directory.Move(staging, target);
        }
        catch
        {
            TryDeleteDirectory(staging);
            throw;
        }
    }

    /// <summary>Reads and checks the manifest of the adapter in <paramref name="directory"/>.</summary>
    /// <exception cref="FileNotFoundException">The folder has no manifest.</exception>
    /// <exception cref="InvalidDataException">The manifest is not a complete version-1 adapter manifest.</exception>
    public static AdapterManifest ReadManifest(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        string path = Path.Combine(directory, ManifestFile);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"'{directory}' is not an adapter folder: {ManifestFile} is missing.",
                path);
        }

        var manifest = JsonSerializer.Deserialize<AdapterManifest>(File.ReadAllText(path), ModelJson.Options);
        if (manifest?.Format != FormatName || manifest.FormatVersion != FormatVersion || manifest.Backbone is null ||
            manifest.Method is null || manifest.Classes is null || manifest.ImageColumnName is null ||
            manifest.ScoreColumnName is null || manifest.PredictedLabelColumnName is null ||
            manifest.BackboneFingerprint is null)
        {
            throw new InvalidDataException(
                $"{path} is not a version-{FormatVersion} {FormatName} manifest (format '{manifest?.Format}', " +
                $"version {manifest?.FormatVersion}).");
        }

        return manifest;
    }

    /// <summary>
    /// Rebuilds the adapter's model on <paramref name="backbone"/>: checks that the backbone has the adapter's
    /// architecture and, unless the adapter carries its own trained backbone, the fingerprint of its weights.
    /// </summary>
    /// <exception cref="ArgumentException">The backbone is not the one the adapter was trained on.</exception>
    public static PromptedVisionTransformer LoadModel(string directory, AdapterManifest manifest,
        VisionTransformer backbone, bool ownsBackbone)
    {
        if (ArchitectureOf(manifest.Backbone!) != ArchitectureOf(backbone.Config))
        {
            throw new ArgumentException(
                $"The adapter in '{directory}' was trained on backbone architecture " +
                $"{ModelJson.SerializeConfig(manifest.Backbone!)} but the given backbone is " +
                $"{ModelJson.SerializeConfig(backbone.Config)}.", nameof(backbone));
        }

        var methodOptions = ModelJson.DeserializeMethodOptions(
            manifest.Method!, manifest.MethodOptions.GetRawText(), manifest.MethodAssembly);
        if (!methodOptions.Scope.TrainsBackbone)
        {
            string fingerprint = BackboneFingerprint.Compute(backbone);
            if (fingerprint != manifest.BackboneFingerprint)
            {
                throw new ArgumentException(
                    $"The adapter in '{directory}' was trained on a backbone with fingerprint " +
                    $"{manifest.BackboneFingerprint}, but the given backbone's weights have fingerprint " +
                    $"{fingerprint}. " +
                    "Load the adapter onto the backbone it was trained on.", nameof(backbone));
            }
        }

        var model = new PromptedVisionTransformer(backbone, methodOptions, manifest.Classes!.Length, ownsBackbone);
        try
        {
            using (var weights = SafeTensorsReader.Open(Path.Combine(directory, WeightsFile)))
            {
                ModelTensors.Load(model, weights.ReadAll(), $"adapter '{directory}'");
            }

            if (manifest.Precision == TrainingPrecision.BFloat16)
            {
                model.SetComputePrecision(torch.ScalarType.BFloat16);
            }

            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The architecture as comparable text (the variant's display name does not matter).</summary>
    private static string ArchitectureOf(VitConfig config) =>
        ModelJson.SerializeConfig(config with { Name = string.Empty });

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the original error matters more.
        }
    }
}
