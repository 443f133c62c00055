using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Interop;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Persistence;
using MLNet.PromptTuning.Training;
using TorchSharp;

namespace MLNet.PromptTuning;

/// <summary>
/// Trains a prompt-tuned Vision Transformer for multiclass image classification: the pretrained backbone stays frozen
/// and only a small set of prompt parameters and a linear head are learned (or, as reference points, only the head —
/// <c>linear</c> — or everything — <c>full</c>). Create it with
/// <c>mlContext.MulticlassClassification.Trainers.PromptViT(...)</c>.
/// </summary>
/// <remarks>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type</description></listheader>
/// <item><term>Label (input)</term><description>key type (use <c>MapValueToKey</c>)</description></item>
/// <item><term>Image (input)</term><description><c>MLImage</c> (<c>LoadImages</c>), encoded bytes
/// (<c>LoadRawImageBytes</c>), or a channel-planar pixel vector (<c>ExtractPixels</c>)</description></item>
/// <item><term>Score (output)</term><description>vector of Single: class probabilities, slot names = class
/// names</description></item>
/// <item><term>PredictedLabel (output)</term><description>key type with the label's key values</description></item>
/// </list>
/// <para>Trainer characteristics: multiclass classification; no normalization or caching needed (images are resized
/// and normalised inside, from the backbone's preprocessing); needs a TorchSharp native package (TorchSharp-cpu, or
/// TorchSharp-cuda-* for GPUs); exportable to ONNX with <c>mlContext.Model.ConvertToOnnx</c> (docs/onnx.md).</para>
/// <para>Methods: VPT (Jia et al., ECCV 2022), TCPA (ICML 2025), CVPT (ICCV 2025), LSPT (arXiv 2402.17406), SEP
/// (vision side). See docs/methods/ for each.</para>
/// <para>Memory does not grow with the data: images are read from the data view in bounded windows, resized to the
/// backbone's input size as they are read, and kept after their first read only up to
/// <see cref="Options.ImageCacheMegabytes"/>; decoding runs on <see cref="Options.DataLoadingThreads"/> threads while
/// the model computes.</para>
/// <para>Logs go to the MLContext's <c>Log</c> event; progress to <see cref="Options.Progress"/>; cancelling
/// <see cref="Options.CancellationToken"/> stops training between steps (MLContext has no public cancel method;
/// ML.NET's internal cancellation of the context is checked at the same points).</para>
/// </remarks>
public sealed partial class PromptViTTrainer : IEstimator<PromptViTTransformer>
{
    private const string ComponentName = "PromptViTTrainer";

    private readonly IHost _host;
    private readonly Options _options;

    internal PromptViTTrainer(IHostEnvironment environment, Options options)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(options);
        _host = environment.Register(ComponentName);
        options.Validate();
        _options = options;
    }

    /// <summary>The options this trainer was created with.</summary>
    public Options TrainerOptions => _options;

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var label = SchemaChecks.CheckLabelColumn(inputSchema, _options.LabelColumnName);
        SchemaChecks.CheckImageColumn(inputSchema, _options.ImageColumnName);
        return MulticlassOutputColumns.GetOutputSchemaShape(
            inputSchema, label, _options.ScoreColumnName, _options.PredictedLabelColumnName);
    }

    /// <summary>Trains on <paramref name="input"/> and returns the prompt-tuned model.</summary>
    /// <param name="input">Rows with a key-typed label and an image column.</param>
    /// <exception cref="ArgumentException">A column is missing or of the wrong type, the data is empty, or it has
    /// fewer than two classes.</exception>
    /// <exception cref="InvalidDataException">An image cannot be decoded or has NaN/infinite pixels (the row is
    /// named).</exception>
    /// <exception cref="OperationCanceledException">Training was cancelled.</exception>
    public PromptViTTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        using var channel = _host.Start("Training PromptViT");
        GetOutputSchema(SchemaChecks.ToShape(input.Schema));

        var (backbone, ownsBackbone) = ResolveBackbone(channel);
        PromptedVisionTransformer? model = null;
        try
        {
            var spec = new ImageInputSpec(backbone.Config.InChannels, o.PixelVectorShape);
            var labeled = LabeledRows.Scan(input, o.ImageColumnName, o.LabelColumnName, spec, _host.CheckAlive);
            var classes = labeled.Classes;
            RequireTwoClasses(classes.Count, labeled.Labels);
            if (!o.ResizeImages)
            {
                (backbone, ownsBackbone) = AdaptToImageSize(backbone, ownsBackbone, labeled.ReadFirstImageSize(),
                    channel);
            }

            var device = DeviceSelection.Resolve(o.Device, _host, nameof(o.Device));
            var methodOptions = o.GetMethodOptions();
            var precision = PrecisionSelection.Resolve(o.Precision, device, methodOptions.Scope.TrainsBackbone);
            if (precision == TrainingPrecision.BFloat16 && !ownsBackbone)
            {
                // bfloat16 converts the backbone in place: convert a private copy, never the caller's Options.Backbone.
                backbone = BackboneCopy.Of(backbone);
                ownsBackbone = true;
            }

            WarnAboutChannelConversion(channel, backbone.Config);
            var (trainRows, validationRows) = SplitRows(labeled, spec);
            var (trainSet, validationSet) = CreateImageSources(trainRows, validationRows, backbone.Config, channel);

            // Seed before the method and head draw their initial values, so a seeded Fit is reproducible.
            torch.manual_seed(SeedOf(o));
            model = new PromptedVisionTransformer(
                backbone, methodOptions, classes.Count, ownsBackbone, o.GetHeadInitialization());
            ownsBackbone = false; // the model owns (and disposes) it now, when it was ours

            // A frozen backbone's fingerprint is taken in float32, before any bfloat16 conversion: it must match the
            // float32 backbone an adapter is later loaded onto.
            string? frozenFingerprint = model.Scope.TrainsBackbone ? null : BackboneFingerprint.Compute(model.Backbone);
            if (precision == TrainingPrecision.BFloat16)
            {
                model.SetComputePrecision(torch.ScalarType.BFloat16);
            }

            channel.Info(MessageSensitivity.None,
                $"PromptViT: method '{model.Method.Id}', {model.CountTrainableParameters():N0} trainable parameters, " +
                $"backbone {backbone.Config.Name} ({backbone.Config.ImageHeight}x{backbone.Config.ImageWidth}x" +
                $"{backbone.Config.InChannels}), " +
                $"{classes.Count} classes, {trainSet.Count} training and {validationSet?.Count ?? 0} validation " +
                $"images, {device} in {PrecisionName(precision, o.Precision)}.");

            var engineOptions = o with
            {
                Seed = SeedOf(o), Device = DeviceSelection.ToEngineDevice(device), Precision = precision,
            };
            var trainer = new ClassifierTrainer(engineOptions, new ChannelLogger(channel),
                new ProgressRelay(_host, o.Progress))
            {
                EpochCompleted = o.MetricsCallback,
            };
            var result = trainer.TrainOn(model, trainSet, validationSet, o.CancellationToken);
            ReportColorReduction(channel, backbone.Config, labeled);

            string fingerprint = frozenFingerprint ?? BackboneFingerprint.Compute(model.Backbone);
            var settings = new ImageScoringSettings(o.ImageColumnName, o.ScoreColumnName, o.PredictedLabelColumnName,
                o.InferenceBatchSize, spec);
            var transformer = new PromptViTTransformer(_host, model, settings, classes, o.PixelValueScale, fingerprint,
                device, result);
            model = null;
            return transformer;
        }
        finally
        {
            model?.Dispose();
            if (ownsBackbone)
            {
                backbone.Dispose();
            }
        }
    }

    private static string PrecisionName(TrainingPrecision chosen, TrainingPrecision requested) =>
        (chosen == TrainingPrecision.BFloat16 ? "bfloat16" : "float32") +
        (requested == TrainingPrecision.Auto ? " (Precision = Auto)" : "");

    private (VisionTransformer Backbone, bool Owns) ResolveBackbone(IChannel channel)
    {
        if (_options.Backbone is { } shared)
        {
            return (shared, false);
        }

        string path = _options.BackbonePath!;
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"Options.BackbonePath '{path}' does not exist. Give a local safetensors or .npz file; nothing is " +
                $"downloaded.", path);
        }

        var config = _options.BackboneConfig ?? ReadStoredConfig(path);
        var backbone = new VisionTransformer(config);
        try
        {
            var report = BackboneCheckpoint.Load(backbone, path, _options.BackboneFormat);
            foreach (var adaptation in report.Adaptations)
            {
                channel.Warning(MessageSensitivity.None, $"Backbone '{path}': {adaptation}");
            }

            return (backbone, true);
        }
        catch
        {
            backbone.Dispose();
            throw;
        }
    }

    /// <summary>With resizing off, the backbone runs at the data's own image size (all images must share it: the
    /// image sources refuse one of another size when they read it).</summary>
    private static (VisionTransformer Backbone, bool Owns) AdaptToImageSize(
        VisionTransformer backbone, bool ownsBackbone, (int Height, int Width) firstImage, IChannel channel)
    {
        var (height, width) = firstImage;
        if (height == backbone.Config.ImageHeight && width == backbone.Config.ImageWidth)
        {
            return (backbone, ownsBackbone);
        }

        var resized = BackboneResizer.Resize(backbone, height, width);
        channel.Warning(MessageSensitivity.None,
            $"ResizeImages is off: the backbone runs at {height}x{width} instead of " +
            $"{backbone.Config.ImageHeight}x{backbone.Config.ImageWidth}; its position embedding was resampled.");
        if (ownsBackbone)
        {
            backbone.Dispose();
        }

        return (resized, true);
    }

    private static VitConfig ReadStoredConfig(string path)
    {
        try
        {
            return BackboneCheckpoint.ReadConfig(path);
        }
        catch (InvalidDataException e) when (MissingArchitecture.Is(e))
        {
            throw new ArgumentException(
                $"'{path}' does not record its architecture; set Options.BackboneConfig (for example " +
                $"VitVariants.Base()). " +
                e.Message, nameof(Options.BackboneConfig), e);
        }
    }

    /// <summary>The training rows and the validation rows: <see cref="Options.ValidationSet"/>'s, a seeded
    /// stratified share of the training data, or none.</summary>
    private (LabeledRows Train, LabeledRows? Validation) SplitRows(LabeledRows labeled, ImageInputSpec spec)
    {
        var o = _options;
        if (o.ValidationSet is not null)
        {
            CheckValidationSchema(o.ValidationSet.Schema);
            var validation = LabeledRows.Scan(o.ValidationSet, o.ImageColumnName, o.LabelColumnName, spec,
                _host.CheckAlive);
            if (validation.Classes.Count != labeled.Classes.Count)
            {
                throw new ArgumentException(
                    $"Options.ValidationSet's label column '{o.LabelColumnName}' has {validation.Classes.Count} " +
                    $"key values but the training data has {labeled.Classes.Count}; map both with the same " +
                    "MapValueToKey.",
                    nameof(o.ValidationSet));
            }

            return (labeled, validation);
        }

        var (train, held) = StratifiedSplit(labeled.Labels, o.ValidationSetFraction, SeedOf(o));
        return held.Length == 0 ? (labeled, null) : (labeled.Subset(train), labeled.Subset(held));
    }

    /// <summary>Image sources at the backbone's input size; the cache budget goes to the training images
    /// first.</summary>
    private (DataViewImageSource Train, DataViewImageSource? Validation) CreateImageSources(LabeledRows train,
        LabeledRows? validation, VitConfig config, IChannel channel)
    {
        var o = _options;
        var pre = config.Preprocessing;
        int threads = o.DataLoadingThreads ?? Options.Defaults.DataLoadingThreads;
        var settings = new ImageLoadingSettings(pre.Channels, pre.Height, pre.Width, o.PixelValueScale,
            RequireStoredSize: !o.ResizeImages, threads, o.ReadWindowRows, _host.CheckAlive);
        int budget = ResizedImageCache.RowsWithin(o.ImageCacheMegabytes, settings.RowBytes, int.MaxValue);
        var trainSet = new DataViewImageSource(train, settings, budget);
        int left = budget - trainSet.Cache.Capacity;
        var validationSet = validation is null ? null : new DataViewImageSource(validation, settings, left);
        int cached = trainSet.Cache.Capacity + (validationSet?.Cache.Capacity ?? 0);
        int total = trainSet.Count + (validationSet?.Count ?? 0);
        channel.Info(MessageSensitivity.None,
            $"PromptViT data: images are stored at {pre.Width}x{pre.Height}x{pre.Channels}; {cached:N0} of " +
            $"{total:N0} are kept after their first read ({(long)cached * settings.RowBytes / (1 << 20):N0} MiB of " +
            $"ImageCacheMegabytes = {o.ImageCacheMegabytes:N0})" +
            (cached < total ? "; the others are decoded again every epoch" : "") +
            $", on {threads} decoding thread{(threads == 1 ? "" : "s")}.");
        return (trainSet, validationSet);
    }

    /// <summary>
    /// Options.ValidationSet bypasses the pipeline, so it must arrive in the trained form; a raw view (a string label,
    /// a path column) is the usual mistake, and the error says which option holds it.
    /// </summary>
    private void CheckValidationSchema(DataViewSchema schema)
    {
        try
        {
            var shape = SchemaChecks.ToShape(schema);
            SchemaChecks.CheckLabelColumn(shape, _options.LabelColumnName);
            SchemaChecks.CheckImageColumn(shape, _options.ImageColumnName);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentException(
                "Options.ValidationSet must already be transformed like the training data at the trainer (a " +
                "key-typed label from the same MapValueToKey and the image column): pass " +
                "prepare.Transform(validationRows), " +
                "where prepare is the pipeline before the trainer fitted on the training rows. " + e.Message,
                nameof(Options.ValidationSet), e);
        }
    }

    private static void RequireTwoClasses(int keyCount, int[] labels)
    {
        if (keyCount < 2)
        {
            throw new ArgumentException(
                $"The label column has {keyCount} class; a multiclass classifier needs 2 or more classes.", "Label");
        }

        int distinct = labels.Distinct().Count();
        if (distinct < 2)
        {
            throw new ArgumentException(
                $"Every training row has the same label (class index {labels[0]}); a classifier needs rows of 2 or " +
                $"more classes.",
                "Label");
        }
    }

    private void WarnAboutChannelConversion(IChannel channel, VitConfig config)
    {
        if (config.InChannels != 1 && _options.PixelVectorShape is { Channels: 1 })
        {
            channel.Warning(MessageSensitivity.None,
                "The backbone takes RGB images: 1-channel pixel vectors are repeated into three channels.");
        }
    }

    /// <summary>
    /// After training, since images are decoded while training runs: how many training images were in colour and lost
    /// it in the luma step. Decoders hand out gray images as RGB with equal channels, so those are not counted.
    /// </summary>
    private static void ReportColorReduction(IChannel channel, VitConfig config, LabeledRows labeled)
    {
        int reduced = labeled.Image.ColorRowsReduced;
        if (config.InChannels == 1 && reduced > 0)
        {
            channel.Warning(MessageSensitivity.None,
                $"The backbone takes 1-channel images: {reduced} of {labeled.Positions.Length} training images are " +
                "in color and were converted to grayscale (ITU-R 601 luma).");
        }
    }

    /// <summary>A seeded split that keeps each class's share: <paramref name="fraction"/> of every class is held
    /// out.</summary>
    private static (int[] Train, int[] Validation) StratifiedSplit(int[] labels, float fraction, int seed)
    {
        if (fraction <= 0)
        {
            return (Enumerable.Range(0, labels.Length).ToArray(), Array.Empty<int>());
        }

        var random = new Random(seed);
        var train = new List<int>();
        var validation = new List<int>();
        foreach (var group in Enumerable.Range(0, labels.Length).GroupBy(i => labels[i]).OrderBy(g => g.Key))
        {
            var rows = group.OrderBy(_ => random.Next()).ToArray();
            int held = rows.Length < 2 ? 0 : Math.Max(1, (int)Math.Round(rows.Length * fraction));
            validation.AddRange(rows.Take(held));
            train.AddRange(rows.Skip(held));
        }

        train.Sort();
        validation.Sort();
        return (train.ToArray(), validation.ToArray());
    }

    private int SeedOf(Options o) => o.Seed ?? MLNetEnvironment.GetSeed(_host) ?? TrainingOptions.Defaults.Seed;
}
