using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Interop;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Persistence;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;
using TorchSharp;

namespace MLNet.PromptTuning;

/// <summary>
/// A prompt-tuned Vision Transformer in an ML.NET pipeline: adds <c>Score</c> (class probabilities, with the class
/// names as slot names) and <c>PredictedLabel</c> (a key with the training label's values), exactly like a native
/// multiclass trainer, so <c>MulticlassClassification.Evaluate</c>, <c>MapKeyToValue</c>, <c>PredictionEngine</c> and
/// <c>CrossValidate</c> work unchanged. Rows are scored in batches on the model's device.
/// </summary>
/// <remarks>
/// <para><c>mlContext.Model.Save</c> writes the whole model (backbone included) and <c>mlContext.Model.Load</c> restores
/// it in any process with no registration call. <see cref="SaveAdapter"/> writes only the trained prompt and head
/// tensors plus a manifest, for many tasks sharing one backbone file.</para>
/// <para>The transformer holds native (libtorch) memory: dispose it when done (<c>using var model = ...</c>).</para>
/// </remarks>
public sealed class PromptViTTransformer : ITransformer, IDisposable
{
    internal const string LoaderSignature = "PromptViTTransformer";

    internal static readonly ModelFormat Format = new(
        ModelSignature: "PRMPTVIT",
        LoaderSignature: LoaderSignature,
        VersionWritten: 0x00010001,
        VersionReadable: 0x00010001,
        VersionWeCanReadBack: 0x00010001);

    private const string BackboneStream = "Backbone.safetensors";
    private const string TrainableStream = "Trainable.safetensors";
    private const string AdapterManifestFile = "adapter_manifest.json";
    private const string AdapterWeightsFile = "adapter_model.safetensors";
    private const string AdapterFormatName = "mlnet-prompttuning-adapter";

    private readonly IHostEnvironment _environment;
    private readonly PromptViTScorer _scorer;
    private readonly ImageScoringCore _core;
    private readonly float _pixelValueScale;
    private readonly string _backboneFingerprint;
    private bool _disposed;

    internal PromptViTTransformer(
        IHostEnvironment environment,
        PromptedVisionTransformer model,
        ImageScoringSettings settings,
        ClassLabels classes,
        float pixelValueScale,
        string backboneFingerprint,
        torch.Device device,
        TrainingResult? trainingResult = null)
    {
        _environment = environment;
        Model = model;
        _pixelValueScale = pixelValueScale;
        _backboneFingerprint = backboneFingerprint;
        TrainingResult = trainingResult;
        Model.MoveTo(device);
        Model.SetTrainingMode(false);
        _scorer = new PromptViTScorer(model, device, pixelValueScale);
        _core = new ImageScoringCore(environment, settings, classes, _scorer);
    }

    /// <summary>The trained TorchSharp model (backbone, method and head).</summary>
    public PromptedVisionTransformer Model { get; }

    /// <summary>Class names in score-slot order.</summary>
    public IReadOnlyList<string> ClassNames => _core.Classes.Names;

    /// <summary>The method's registry id (for example <c>vpt</c>).</summary>
    public string MethodId => Model.Method.Id;

    /// <summary>Per-epoch history of the training run that produced this model; null for a loaded model.</summary>
    public TrainingResult? TrainingResult { get; }

    /// <inheritdoc/>
    public bool IsRowToRowMapper => _core.IsRowToRowMapper;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => _core.GetOutputSchema(inputSchema);

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        ThrowIfDisposed();
        return _core.Transform(input);
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ThrowIfDisposed();
        return _core.GetRowToRowMapper(inputSchema);
    }

    /// <summary>
    /// Writes only what training produced, the method's and head's tensors (and the backbone for full fine-tuning),
    /// as <c>adapter_model.safetensors</c> plus <c>adapter_manifest.json</c> in <paramref name="directory"/>: method and
    /// options, classes, columns, preprocessing, backbone architecture and a fingerprint of the frozen weights. The
    /// folder is written beside and moved into place, so a failure never leaves a half-written adapter.
    /// </summary>
    /// <param name="directory">Destination folder; must not exist yet, or be empty.</param>
    public void SaveAdapter(string directory)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        string target = Path.GetFullPath(directory);
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
        {
            throw new IOException($"The adapter folder '{target}' already exists and is not empty; choose a new folder.");
        }

        string parent = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(parent);
        string staging = Path.Combine(parent, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(staging);
        try
        {
            var manifest = new AdapterManifest
            {
                Format = AdapterFormatName,
                FormatVersion = 1,
                LibraryVersion = typeof(PromptViTTransformer).Assembly.GetName().Version?.ToString() ?? "unknown",
                Method = MethodId,
                MethodOptions = JsonDocument.Parse(ModelJson.SerializeMethodOptions(Model.Method.Options)).RootElement,
                Classes = ClassNames.ToArray(),
                ImageColumnName = _core.Settings.ImageColumnName,
                ScoreColumnName = _core.Settings.ScoreColumnName,
                PredictedLabelColumnName = _core.Settings.PredictedLabelColumnName,
                InferenceBatchSize = _core.Settings.BatchSize,
                PixelVectorShape = _core.Settings.Image.PixelVectorShape,
                PixelValueScale = _pixelValueScale,
                Precision = Model.ComputePrecision == torch.ScalarType.BFloat16 ? TrainingPrecision.BFloat16 : TrainingPrecision.Float32,
                Backbone = Model.Backbone.Config,
                BackboneFingerprint = _backboneFingerprint,
            };
            File.WriteAllText(Path.Combine(staging, AdapterManifestFile), JsonSerializer.Serialize(manifest, ModelJson.Options));
            SafeTensorsWriter.Write(Path.Combine(staging, AdapterWeightsFile), TrainableTensors(includeBackbone: Model.Method.TrainsBackbone),
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

    /// <summary>
    /// Loads an adapter written by <see cref="SaveAdapter"/> onto <paramref name="backbone"/>, which must be the
    /// backbone it was trained on (same architecture and identical weights; a different fingerprint is an error).
    /// The backbone is shared, not copied, and is not disposed with the returned transformer.
    /// </summary>
    /// <param name="mlContext">The context whose log and device settings the model uses.</param>
    /// <param name="directory">The adapter folder.</param>
    /// <param name="backbone">The frozen backbone the adapter was trained on.</param>
    /// <param name="device">Device to score on; default <c>auto</c> (the context's GPU when set and available).</param>
    public static PromptViTTransformer LoadAdapter(MLContext mlContext, string directory, VisionTransformer backbone, string device = "auto")
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(backbone);
        return LoadAdapterCore(mlContext, directory, backbone, ownsBackbone: false, device);
    }

    /// <summary>Loads an adapter onto the backbone stored at <paramref name="backbonePath"/> (read with the adapter's architecture).</summary>
    /// <param name="mlContext">The context whose log and device settings the model uses.</param>
    /// <param name="directory">The adapter folder.</param>
    /// <param name="backbonePath">The backbone weights file the adapter was trained on.</param>
    /// <param name="format">The key layout of <paramref name="backbonePath"/>.</param>
    /// <param name="device">Device to score on; default <c>auto</c>.</param>
    public static PromptViTTransformer LoadAdapter(MLContext mlContext, string directory, string backbonePath,
        CheckpointFormat format = CheckpointFormat.Auto, string device = "auto")
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        var manifest = ReadManifest(directory);
        var backbone = new VisionTransformer(manifest.Backbone!);
        try
        {
            BackboneCheckpoint.Load(backbone, backbonePath, format);
            return LoadAdapterCore(mlContext, directory, backbone, ownsBackbone: true, device);
        }
        catch
        {
            backbone.Dispose();
            throw;
        }
    }

    /// <summary>Releases the model's native memory (and the backbone when this model owns it).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _scorer.Dispose();
        Model.Dispose();
    }

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        ThrowIfDisposed();
        ModelWriter writer = ModelWriter.Begin(ctx, Format, _environment);
        _core.Save(writer);
        writer.WriteString(Model.Method.Id);
        writer.WriteString(ModelJson.SerializeMethodOptions(Model.Method.Options));
        writer.WriteString(ModelJson.SerializeConfig(Model.Backbone.Config));
        writer.WriteString(_backboneFingerprint);
        writer.Writer.Write(_pixelValueScale);
        writer.Writer.Write(Model.ComputePrecision == torch.ScalarType.BFloat16);
        writer.WriteBinaryStream(BackboneStream, w =>
            SafeTensorsWriter.Write(w.BaseStream, Model.Backbone.state_dict()));
        writer.WriteBinaryStream(TrainableStream, w =>
            SafeTensorsWriter.Write(w.BaseStream, TrainableTensors(includeBackbone: false)));
    }

    internal static PromptViTTransformer Load(IHostEnvironment environment, ModelReader reader)
    {
        (ImageScoringSettings settings, ClassLabels classes) = ImageScoringCore.LoadParts(reader);
        string methodId = reader.ReadString();
        var methodOptions = ModelJson.DeserializeMethodOptions(methodId, reader.ReadString(), PromptMethodRegistry.Default);
        var config = ModelJson.DeserializeConfig(reader.ReadString());
        string fingerprint = reader.ReadString();
        float pixelValueScale = reader.Reader.ReadSingle();
        bool bfloat16 = reader.Reader.ReadBoolean();

        var backbone = new VisionTransformer(config);
        try
        {
            reader.ReadBinaryStream(BackboneStream, r => LoadTensors(backbone, r, "backbone"));
            var model = new PromptedVisionTransformer(backbone, methodOptions, classes.Count, ownsBackbone: true);
            reader.ReadBinaryStream(TrainableStream, r => LoadTensors(model, r, "prompt and head"));
            if (bfloat16)
            {
                model.SetComputePrecision(torch.ScalarType.BFloat16);
            }

            var device = DeviceSelection.Resolve("auto", environment);
            return new PromptViTTransformer(environment, model, settings, classes, pixelValueScale, fingerprint, device);
        }
        catch
        {
            backbone.Dispose();
            throw;
        }
    }

    private static PromptViTTransformer LoadAdapterCore(MLContext mlContext, string directory, VisionTransformer backbone,
        bool ownsBackbone, string device)
    {
        var manifest = ReadManifest(directory);
        if (ArchitectureOf(manifest.Backbone!) != ArchitectureOf(backbone.Config))
        {
            throw new ArgumentException(
                $"The adapter in '{directory}' was trained on backbone architecture {ModelJson.SerializeConfig(manifest.Backbone!)} " +
                $"but the given backbone is {ModelJson.SerializeConfig(backbone.Config)}.", nameof(backbone));
        }

        var methodOptions = ModelJson.DeserializeMethodOptions(
            manifest.Method!, manifest.MethodOptions.GetRawText(), PromptMethodRegistry.Default);
        bool trainsBackbone = methodOptions is Methods.FullFineTune.FullFineTuneOptions;
        string fingerprint = BackboneFingerprint.Compute(backbone);
        if (!trainsBackbone && fingerprint != manifest.BackboneFingerprint)
        {
            throw new ArgumentException(
                $"The adapter in '{directory}' was trained on a backbone with fingerprint {manifest.BackboneFingerprint}, " +
                $"but the given backbone's weights have fingerprint {fingerprint}. Load the adapter onto the backbone it was " +
                "trained on.", nameof(backbone));
        }

        var classes = ClassLabels.FromValues(TextDataViewType.Instance,
            manifest.Classes!.Select(n => n.AsMemory()).ToArray());
        var settings = new ImageScoringSettings(manifest.ImageColumnName!, manifest.ScoreColumnName!,
            manifest.PredictedLabelColumnName!, manifest.InferenceBatchSize,
            new ImageInputSpec(backbone.Config.InChannels, manifest.PixelVectorShape));
        var model = new PromptedVisionTransformer(backbone, methodOptions, classes.Count, ownsBackbone);
        try
        {
            using (var weights = SafeTensorsReader.Open(Path.Combine(directory, AdapterWeightsFile)))
            {
                LoadTensors(model, weights.ReadAll(), $"adapter '{directory}'");
            }

            if (manifest.Precision == TrainingPrecision.BFloat16)
            {
                model.SetComputePrecision(torch.ScalarType.BFloat16);
            }

            IHostEnvironment environment = mlContext;
            return new PromptViTTransformer(environment, model, settings, classes, manifest.PixelValueScale,
                manifest.BackboneFingerprint!, DeviceSelection.Resolve(device, environment));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The architecture as comparable text (the variant's display name does not matter).</summary>
    private static string ArchitectureOf(VitConfig config) => ModelJson.SerializeConfig(config with { Name = string.Empty });

    private static AdapterManifest ReadManifest(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        string path = Path.Combine(directory, AdapterManifestFile);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"'{directory}' is not an adapter folder: {AdapterManifestFile} is missing.", path);
        }

        var manifest = JsonSerializer.Deserialize<AdapterManifest>(File.ReadAllText(path), ModelJson.Options);
        if (manifest?.Format != AdapterFormatName || manifest.FormatVersion != 1 || manifest.Backbone is null ||
            manifest.Method is null || manifest.Classes is null || manifest.ImageColumnName is null ||
            manifest.ScoreColumnName is null || manifest.PredictedLabelColumnName is null || manifest.BackboneFingerprint is null)
        {
            throw new InvalidDataException(
                $"{path} is not a version-1 {AdapterFormatName} manifest (format '{manifest?.Format}', version {manifest?.FormatVersion}).");
        }

        return manifest;
    }

    private Dictionary<string, torch.Tensor> TrainableTensors(bool includeBackbone) =>
        Model.state_dict()
            .Where(kv => includeBackbone || !kv.Key.StartsWith("backbone.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value);

    private static void LoadTensors(torch.nn.Module module, BinaryReader reader, string what)
    {
        // The zip entry stream may not seek; the safetensors reader needs to.
        using var buffer = new MemoryStream();
        reader.BaseStream.CopyTo(buffer);
        buffer.Position = 0;
        using var file = SafeTensorsReader.Open(buffer, what);
        LoadTensors(module, file.ReadAll(), what);
    }

    /// <summary>
    /// Copies <paramref name="tensors"/> into <paramref name="module"/> after checking names and shapes; a model's own
    /// backbone tensors (<c>backbone.*</c>) may be absent, since they are stored and loaded separately.
    /// </summary>
    private static void LoadTensors(torch.nn.Module module, Dictionary<string, torch.Tensor> tensors, string what)
    {
        try
        {
            var expected = module.state_dict();
            var missing = expected.Keys.Where(k => !tensors.ContainsKey(k) && !k.StartsWith("backbone.", StringComparison.Ordinal)).ToList();
            var unexpected = tensors.Keys.Where(k => !expected.ContainsKey(k)).ToList();
            if (missing.Count > 0 || unexpected.Count > 0)
            {
                throw new InvalidDataException(
                    $"The {what} tensors do not fit the model: missing [{string.Join(", ", missing)}], " +
                    $"unexpected [{string.Join(", ", unexpected)}].");
            }

            using var noGrad = torch.no_grad();
            foreach (var (name, tensor) in tensors)
            {
                var target = expected[name];
                if (!target.shape.SequenceEqual(tensor.shape))
                {
                    throw new InvalidDataException(
                        $"The {what} tensor '{name}' has shape [{string.Join(", ", tensor.shape)}]; the model expects " +
                        $"[{string.Join(", ", target.shape)}].");
                }

                target.copy_(tensor);
            }
        }
        finally
        {
            foreach (var tensor in tensors.Values)
            {
                tensor.Dispose();
            }
        }
    }

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

    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(nameof(PromptViTTransformer), "This PromptViT model was disposed.");
        }
    }
}
