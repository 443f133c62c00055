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
/// <para><c>mlContext.Model.Save</c> writes the whole model (backbone included) and <c>mlContext.Model.Load</c>
/// restores it in any process with no registration call. <see cref="SaveAdapter"/> writes only the trained prompt and
/// head tensors plus a manifest, for many tasks sharing one backbone file.</para>
/// <para>The transformer holds native (libtorch) memory: dispose it when done (<c>using var model = ...</c>).</para>
/// </remarks>
public sealed class PromptViTTransformer : ITransformer, IDisposable
{
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
        TrainingResult = trainingResult ?? TrainingResult.Empty;
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

    /// <summary>
    /// Per-epoch history of the training run that produced this model. Never null: a model loaded from a file (its
    /// training ran elsewhere) has <see cref="Training.TrainingResult.Empty"/>, whose history has no epochs.
    /// </summary>
    public TrainingResult TrainingResult { get; }

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
    /// Writes only what training produced, the method's and head's tensors (and the backbone when the model's
    /// <see cref="PromptedVisionTransformer.Scope"/> trains it, as full fine-tuning does),
    /// as <c>adapter_model.safetensors</c> plus <c>adapter_manifest.json</c> in <paramref name="directory"/>: method
    /// and options, classes, columns, preprocessing, backbone architecture, a fingerprint of the frozen weights and a
    /// SHA-256 of the weights file. The files are written into a staging folder beside the destination, flushed to
    /// disk and then moved into place, so the destination either does not exist or holds a complete adapter, even if
    /// the process is killed or the machine loses power mid-save. A killed save leaves its staging folder
    /// (<c>.{name}.{pid}.{random}.tmp</c>) behind; the next save to the same destination removes it.
    /// </summary>
    /// <param name="directory">Destination folder; must not exist yet, or be empty.</param>
    /// <exception cref="IOException"><paramref name="directory"/> exists and is not empty, or writing
    /// failed.</exception>
    public void SaveAdapter(string directory)
    {
        ThrowIfDisposed();
        AdapterFolder.Write(directory, DescribeAdapter(), Model);
    }

    /// <summary>
    /// Loads an adapter written by <see cref="SaveAdapter"/> onto <paramref name="backbone"/>, which must be the
    /// backbone it was trained on (same architecture and identical weights; a different fingerprint is an error).
    /// The backbone is shared, not copied, and is not disposed with the returned transformer; its values and element
    /// type are never changed (a <paramref name="device"/> other than the backbone's moves it, since it is shared).
    /// An adapter trained in bfloat16 gets a private copy of the backbone converted to bfloat16, which costs the
    /// backbone's memory (at half the float32 size) once more per loaded adapter.
    /// </summary>
    /// <remarks>
    /// The weights file is checked against the SHA-256 the manifest records (adapters saved by versions that wrote
    /// format version 1 have none and load without the check). The manifest has no checksum of its own: an edit that
    /// still parses as a valid manifest is read as written.
    /// </remarks>
    /// <param name="mlContext">The context whose log and device settings the model uses.</param>
    /// <param name="directory">The adapter folder.</param>
    /// <param name="backbone">The frozen backbone the adapter was trained on.</param>
    /// <param name="device">Device to score on; default <c>auto</c> (the context's GPU when set and available).</param>
    /// <exception cref="ArgumentException"><paramref name="backbone"/> has another architecture than the adapter's,
    /// or (for a frozen backbone) other weights; or <paramref name="device"/> is not a device name.</exception>
    /// <exception cref="FileNotFoundException">The folder has no manifest or no weights file.</exception>
    /// <exception cref="IOException">A file cannot be read.</exception>
    /// <exception cref="InvalidDataException">The manifest is not valid JSON, has values of the wrong type or describes
    /// no model this backbone can carry, or the weights file does not match the manifest's SHA-256, is damaged or does
    /// not fit the model. The message names the file.</exception>
    /// <exception cref="NotSupportedException">The adapter needs something this build does not support (such as a
    /// tensor element type, or bfloat16 with a scope that trains the backbone).</exception>
    /// <exception cref="CheckpointMismatchException">A tensor does not fit the model.</exception>
    public static PromptViTTransformer LoadAdapter(MLContext mlContext, string directory, VisionTransformer backbone,
        string device = "auto")
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(backbone);
        return LoadAdapterCore(mlContext, directory, backbone, ownsBackbone: false, device);
    }

    /// <summary>Loads an adapter onto the backbone stored at <paramref name="backbonePath"/> (read with the adapter's
    /// architecture); the returned transformer owns that backbone. Checks and failures as in the other
    /// overload, plus those of reading the backbone file.</summary>
    /// <param name="mlContext">The context whose log and device settings the model uses.</param>
    /// <param name="directory">The adapter folder.</param>
    /// <param name="backbonePath">The backbone weights file the adapter was trained on.</param>
    /// <param name="format">The key layout of <paramref name="backbonePath"/>.</param>
    /// <param name="device">Device to score on; default <c>auto</c>.</param>
    /// <exception cref="ArgumentException">The backbone file holds other weights than the adapter was trained
    /// on.</exception>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="InvalidDataException">The adapter or the backbone file is damaged (names the
    /// file).</exception>
    /// <exception cref="NotSupportedException">A file needs something this build does not support.</exception>
    /// <exception cref="CheckpointMismatchException">The backbone file does not fit the adapter's
    /// architecture.</exception>
    public static PromptViTTransformer LoadAdapter(MLContext mlContext, string directory, string backbonePath,
        CheckpointFormat format = CheckpointFormat.Auto, string device = "auto")
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        var manifest = AdapterFolder.ReadManifest(directory);
        var backbone = AdapterFolder.FromFile(Path.Combine(directory, AdapterFolder.ManifestFile),
            () => new VisionTransformer(manifest.Backbone!));
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
        ModelWriter writer = ModelWriter.Begin(ctx, SavedModelFormat.Format, _environment);
        _core.Save(writer);
        SavedModelFormat.Write(writer, Model, _backboneFingerprint, _pixelValueScale);
    }

    internal static PromptViTTransformer Load(IHostEnvironment environment, ModelReader reader)
    {
        (ImageScoringSettings settings, ClassLabels classes) = ImageScoringCore.LoadParts(reader);
        var (model, fingerprint, pixelValueScale) = SavedModelFormat.Read(reader, classes.Count);
        try
        {
            var device = DeviceSelection.Resolve("auto", environment);
            return new PromptViTTransformer(environment, model, settings, classes, pixelValueScale, fingerprint,
                device);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static PromptViTTransformer LoadAdapterCore(MLContext mlContext, string directory,
        VisionTransformer backbone,
        bool ownsBackbone, string device)
    {
        IHostEnvironment environment = mlContext;
        var scoringDevice = DeviceSelection.Resolve(device, environment); // a caller's error, before any file
        var manifest = AdapterFolder.ReadManifest(directory);
        var model = AdapterFolder.LoadModel(directory, manifest, backbone, ownsBackbone);
        try
        {
            var (classes, settings) = AdapterFolder.FromFile(Path.Combine(directory, AdapterFolder.ManifestFile),
                () =>
                {
                    var read = new ImageScoringSettings(manifest.ImageColumnName!, manifest.ScoreColumnName!,
                        manifest.PredictedLabelColumnName!, manifest.InferenceBatchSize,
                        new ImageInputSpec(backbone.Config.InChannels, manifest.PixelVectorShape));
                    read.Validate();
                    return (ClassLabels.FromValues(TextDataViewType.Instance,
                        manifest.Classes!.Select(n => n.AsMemory()).ToArray()), read);
                });
            return new PromptViTTransformer(environment, model, settings, classes, manifest.PixelValueScale,
                manifest.BackboneFingerprint!, scoringDevice);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The manifest <see cref="SaveAdapter"/> writes, without the weights' digest.</summary>
    internal AdapterManifest DescribeAdapter()
    {
        var manifest = AdapterFolder.Describe(Model, _backboneFingerprint, _pixelValueScale);
        manifest.Classes = ClassNames.ToArray();
        manifest.ImageColumnName = _core.Settings.ImageColumnName;
        manifest.ScoreColumnName = _core.Settings.ScoreColumnName;
        manifest.PredictedLabelColumnName = _core.Settings.PredictedLabelColumnName;
        manifest.InferenceBatchSize = _core.Settings.BatchSize;
        manifest.PixelVectorShape = _core.Settings.Image.PixelVectorShape;
        return manifest;
    }

    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(nameof(PromptViTTransformer), "This PromptViT model was disposed.");
        }
    }
}
