using System.Text.Json;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Runtime;
using MLNet.PromptTuning.Training;
using TorchSharp;

namespace MLNet.PromptTuning.Persistence;

/// <summary>
/// The adapter format (PEFT's habit): a folder with <c>adapter_model.safetensors</c>, the tensors training produced
/// (method and head; the backbone too when the scope trained it), and <c>adapter_manifest.json</c>, everything else
/// needed to rebuild the model on the backbone it was trained on. Since version 2 the manifest records a SHA-256 of the
/// weights file, so any change to it is refused; version-1 adapters load without that check. The manifest itself has
/// no checksum: an edit that still parses as a valid manifest is read as written.
/// </summary>
internal static class AdapterFolder
{
    public const string ManifestFile = "adapter_manifest.json";
    public const string WeightsFile = "adapter_model.safetensors";
    public const string FormatName = "mlnet-prompttuning-adapter";
    public const int FormatVersion = 2;

    /// <summary>The first version whose manifest records <see cref="AdapterManifest.WeightsSha256"/>.</summary>
    private const int WithWeightsDigest = 2;

    // As TrainingOptions.InferenceBatchSize allows.
    private const int MaxInferenceBatchSize = 65_536;

    // A manifest is a few KB (class names dominate); anything far larger is not one.
    private const long MaxManifestBytes = 16L << 20;

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
    /// Writes the adapter of <paramref name="model"/> into <paramref name="directory"/>, which must not exist or be
    /// empty: through a staging folder beside it (<see cref="AtomicFile.WriteDirectory"/>), so the folder either does
    /// not exist or holds a complete adapter, even if the process is killed mid-save.
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

        AtomicFile.WriteDirectory(target, staging =>
        {
            string weights = Path.Combine(staging, WeightsFile);
            SafeTensorsWriter.Write(weights,
                ModelTensors.Trainable(model, includeBackbone: model.Scope.TrainsBackbone),
                new Dictionary<string, string> { ["format"] = "pt", ["producer"] = "MLNet.PromptTuning" });
            using (var stream = File.OpenRead(weights))
            {
                manifest.WeightsSha256 = Sha256Digest.HexOf(stream);
            }

            File.WriteAllText(Path.Combine(staging, ManifestFile),
                JsonSerializer.Serialize(manifest, ModelJson.Options));
        });
    }

    /// <summary>Reads and checks the manifest of the adapter in <paramref name="directory"/>.</summary>
    /// <exception cref="FileNotFoundException">The folder has no manifest.</exception>
    /// <exception cref="InvalidDataException">The manifest is not valid JSON, has a value of the wrong type, or is not
    /// a complete version-1 or version-2 adapter manifest (names the file and the field).</exception>
    public static AdapterManifest ReadManifest(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        string path = Path.Combine(directory, ManifestFile);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"'{directory}' is not an adapter folder: {ManifestFile} is missing.",
                path);
        }

        AdapterManifest? manifest;
        using (var stream = File.OpenRead(path))
        {
            if (stream.Length > MaxManifestBytes)
            {
                throw new InvalidDataException(
                    $"{path} has {stream.Length} bytes; an adapter manifest has at most {MaxManifestBytes}.");
            }

            try
            {
                manifest = JsonSerializer.Deserialize<AdapterManifest>(stream, ModelJson.Options);
            }
            catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or
                                           InvalidOperationException or FormatException or OverflowException)
            {
                throw new InvalidDataException($"{path} is not a valid adapter manifest: {e.Message}", e);
            }
        }

        if (manifest?.Format != FormatName || manifest.FormatVersion is < 1 or > FormatVersion)
        {
            throw new InvalidDataException(
                $"{path} is not a {FormatName} manifest of version 1 to {FormatVersion} (format " +
                $"'{manifest?.Format}', version {manifest?.FormatVersion}).");
        }

        string? missing = manifest switch
        {
            { Backbone: null } => nameof(AdapterManifest.Backbone),
            { Method: null } => nameof(AdapterManifest.Method),
            { MethodOptions.ValueKind: not JsonValueKind.Object } => nameof(AdapterManifest.MethodOptions),
            { Classes: null } => nameof(AdapterManifest.Classes),
            { ImageColumnName: null } => nameof(AdapterManifest.ImageColumnName),
            { ScoreColumnName: null } => nameof(AdapterManifest.ScoreColumnName),
            { PredictedLabelColumnName: null } => nameof(AdapterManifest.PredictedLabelColumnName),
            { BackboneFingerprint: null } => nameof(AdapterManifest.BackboneFingerprint),
            { FormatVersion: >= WithWeightsDigest, WeightsSha256: null } => nameof(AdapterManifest.WeightsSha256),
            _ => null,
        };
        if (missing is not null)
        {
            string expected = missing == nameof(AdapterManifest.MethodOptions) ? "a JSON object" : "a value";
            throw new InvalidDataException(
                $"{path}: {missing} is missing or null; a version-{manifest.FormatVersion} adapter manifest needs " +
                $"{expected} there.");
        }

        string[] classes = manifest.Classes!;
        if (classes.Any(string.IsNullOrEmpty) || classes.Distinct(StringComparer.Ordinal).Count() != classes.Length)
        {
            throw new InvalidDataException(
                $"{path}: Classes [{string.Join(", ", classes.Select(c => c is null ? "null" : $"'{c}'"))}] must " +
                "be distinct, non-empty names.");
        }

        if (manifest.InferenceBatchSize is < 1 or > MaxInferenceBatchSize)
        {
            // The scorer allocates a batch's buffers up front: a huge value would fail only at Transform.
            throw new InvalidDataException(
                $"{path}: InferenceBatchSize {manifest.InferenceBatchSize} is outside 1 to {MaxInferenceBatchSize} " +
                "(the range training accepts).");
        }

        if (!(manifest.PixelValueScale > 0 && float.IsFinite(manifest.PixelValueScale)))
        {
            throw new InvalidDataException(
                $"{path}: PixelValueScale {manifest.PixelValueScale} is not a positive finite multiplier.");
        }

        if (!Enum.IsDefined(manifest.Precision))
        {
            throw new InvalidDataException(
                $"{path}: Precision {(int)manifest.Precision} is not one of " +
                $"{string.Join(", ", Enum.GetNames<TrainingPrecision>())}.");
        }

        if (manifest.WeightsSha256 is { } digest && !IsSha256Hex(digest))
        {
            throw new InvalidDataException(
                $"{path}: WeightsSha256 '{digest}' is not a SHA-256 (64 lower-case hexadecimal digits).");
        }

        return manifest;
    }

    /// <summary>
    /// Rebuilds the adapter's model on <paramref name="backbone"/>: checks that the backbone has the adapter's
    /// architecture and, unless the adapter carries its own trained backbone, the fingerprint of its weights; then
    /// checks the weights file against the manifest's digest and loads it. A backbone the model does not own is never
    /// changed: a bfloat16 adapter gets a private bfloat16 copy of it.
    /// </summary>
    /// <exception cref="ArgumentException">The backbone is not the one the adapter was trained on.</exception>
    /// <exception cref="InvalidDataException">The manifest describes no model this backbone can carry, or the weights
    /// file is damaged or does not fit the model (names the file).</exception>
    public static PromptedVisionTransformer LoadModel(string directory, AdapterManifest manifest,
        VisionTransformer backbone, bool ownsBackbone)
    {
        // The manifest's architecture as text: a value JSON cannot write (an infinite mean) is the manifest's fault.
        string manifestPath = Path.Combine(directory, ManifestFile);
        var (stored, storedArchitecture) = FromFile(manifestPath,
            () => (ModelJson.SerializeConfig(manifest.Backbone!), ArchitectureOf(manifest.Backbone!)));
        if (storedArchitecture != ArchitectureOf(backbone.Config))
        {
            throw new ArgumentException(
                $"The adapter in '{directory}' was trained on backbone architecture {stored} but the given backbone " +
                $"is {ModelJson.SerializeConfig(backbone.Config)}.", nameof(backbone));
        }

        var methodOptions = FromFile(manifestPath, () => ModelJson.DeserializeMethodOptions(
            manifest.Method!, manifest.MethodOptions.GetRawText(), manifest.MethodAssembly));
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

        bool bfloat16 = manifest.Precision == TrainingPrecision.BFloat16;
        bool copied = bfloat16 && !ownsBackbone && !methodOptions.Scope.TrainsBackbone;
        if (copied)
        {
            // Converting to bfloat16 happens in place: convert a private copy, never the caller's backbone.
            backbone = BackboneCopy.Of(backbone);
            ownsBackbone = true;
        }

        PromptedVisionTransformer? model = null;
        try
        {
            var created = FromFile(manifestPath, () => new PromptedVisionTransformer(
                backbone, methodOptions, manifest.Classes!.Length, ownsBackbone));
            model = created;
            string weightsPath = Path.Combine(directory, WeightsFile);
            FromFile(weightsPath, () =>
            {
                using var stream = new FileStream(weightsPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
                if (manifest.WeightsSha256 is { } expected)
                {
                    // Checked on the very stream the tensors are then read from.
                    string actual = Sha256Digest.HexOf(stream);
                    if (actual != expected)
                    {
                        throw new InvalidDataException(
                            $"{weightsPath} has SHA-256 {actual}, but the adapter's {ManifestFile} records " +
                            $"{expected}: the weights file was changed or damaged after it was saved.");
                    }

                    stream.Position = 0;
                }

                using var weights = SafeTensorsReader.Open(stream, weightsPath);
                ModelTensors.Load(created, weights.ReadAll(), $"adapter '{directory}'");
            });

            if (bfloat16)
            {
                model.SetComputePrecision(torch.ScalarType.BFloat16);
            }

            return model;
        }
        catch
        {
            if (model is not null)
            {
                model.Dispose();
            }
            else if (copied)
            {
                backbone.Dispose(); // the private copy, before a model took it
            }

            throw;
        }
    }

    /// <summary>
    /// Runs a step that reads <paramref name="path"/> (or builds what it describes), turning any exception that
    /// LoadAdapter does not document into an <see cref="InvalidDataException"/> that names the file.
    /// </summary>
    public static T FromFile<T>(string path, Func<T> step)
    {
        try
        {
            return step();
        }
        catch (Exception e) when (!IsDocumented(e))
        {
            throw new InvalidDataException($"{path} does not describe a loadable adapter: {e.Message}", e);
        }
    }

    /// <summary>Whether LoadAdapter lets <paramref name="e"/> through unchanged (its documented failures).</summary>
    private static bool IsDocumented(Exception e) =>
        e is InvalidDataException or NotSupportedException or CheckpointMismatchException or IOException
            or UnauthorizedAccessException;

    private static void FromFile(string path, Action step) => FromFile(path, () =>
    {
        step();
        return true;
    });

    private static bool IsSha256Hex(string text) =>
        text.Length == 64 && text.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');

    /// <summary>The architecture as comparable text (the variant's display name does not matter).</summary>
    private static string ArchitectureOf(VitConfig config) =>
        ModelJson.SerializeConfig(config with { Name = string.Empty });
}
