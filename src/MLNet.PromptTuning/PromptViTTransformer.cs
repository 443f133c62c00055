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
    /// and options, classes, columns, preprocessing, backbone architecture and a fingerprint of the frozen weights. The
    /// folder is written beside and moved into place, so a failure never leaves a half-written adapter.
    /// </summary>
    /// <param name="directory">Destination folder; must not exist yet, or be empty.</param>
    public void SaveAdapter(string directory)
    {
        ThrowIfDisposed();
        var manifest = AdapterFolder.Describe(Model, _backboneFingerprint, _pixelValueScale);
        manifest.Classes = ClassNames.ToArray();
        manifest.ImageColumnName = _core.Settings.ImageColumnName;
        manifest.ScoreColumnName = _core.Settings.ScoreColumnName;
        manifest.PredictedLabelColumnName = _core.Settings.PredictedLabelColumnName;
        manifest.InferenceBatchSize = _core.Settings.BatchSize;
        manifest.PixelVectorShape = _core.Settings.Image.PixelVectorShape;
        AdapterFolder.Write(directory, manifest, Model);
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
    public static PromptViTTransformer LoadAdapter(MLContext mlContext, string directory, VisionTransformer backbone,
        string device = "auto")
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(backbone);
        return LoadAdapterCore(mlContext, directory, backbone, ownsBackbone: false, device);
    }

    /// <summary>Loads an adapter onto the backbone stored at <paramref name="backbonePath"/> (read with the adapter's
    /// architecture).</summary>
    /// <param name="mlContext">The context whose log and device settings the model uses.</param>
    /// <param name="directory">The adapter folder.</param>
    /// <param name="backbonePath">The backbone weights file the adapter was trained on.</param>
    /// <param name="format">The key layout of <paramref name="backbonePath"/>.</param>
    /// <param name="device">Device to score on; default <c>auto</c>.</param>
    public static PromptViTTransformer LoadAdapter(MLContext mlContext, string directory, string backbonePath,
        CheckpointFormat format = CheckpointFormat.Auto, string device = "auto")
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        var manifest = AdapterFolder.ReadManifest(directory);
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
        var manifest = AdapterFolder.ReadManifest(directory);
        var model = AdapterFolder.LoadModel(directory, manifest, backbone, ownsBackbone);
        try
        {
            var classes = ClassLabels.FromValues(TextDataViewType.Instance,
                manifest.Classes!.Select(n => n.AsMemory()).ToArray());
            var settings = new ImageScoringSettings(manifest.ImageColumnName!, manifest.ScoreColumnName!,
                manifest.PredictedLabelColumnName!, manifest.InferenceBatchSize,
                new ImageInputSpec(backbone.Config.InChannels, manifest.PixelVectorShape));
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

    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(nameof(PromptViTTransformer), "This PromptViT model was disposed.");
        }
    }
}
