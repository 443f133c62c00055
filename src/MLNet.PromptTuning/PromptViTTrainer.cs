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
            using var labeled = LabeledImageReader.Read(input, o.ImageColumnName, o.LabelColumnName, spec,
                _host.CheckAlive);
            var classes = labeled.Classes;
            RequireTwoClasses(classes.Count, labeled.Labels);
            if (!o.ResizeImages)
            {
                (backbone, ownsBackbone) = AdaptToImageSize(backbone, ownsBackbone, labeled, channel);
            }

            WarnAboutChannelConversion(channel, backbone.Config, labeled);

            int[] trainRows, validationRows;
            LabeledImages? validationImages = null;
            if (o.ValidationSet is not null)
            {
                CheckValidationSchema(o.ValidationSet.Schema);
                validationImages = LabeledImageReader.Read(o.ValidationSet, o.ImageColumnName, o.LabelColumnName, spec,
                    _host.CheckAlive);
                if (validationImages.Classes.Count != classes.Count)
                {
                    throw new ArgumentException(
                        $"Options.ValidationSet's label column '{o.LabelColumnName}' has " +
                        $"{validationImages.Classes.Count} " +
                        $"key values but the training data has {classes.Count}; map both with the same MapValueToKey.",
                        nameof(o.ValidationSet));
                }

                trainRows = Enumerable.Range(0, labeled.Labels.Length).ToArray();
                validationRows = Array.Empty<int>();
            }
            else
            {
                (trainRows, validationRows) = StratifiedSplit(labeled.Labels, o.ValidationSetFraction, SeedOf(o));
            }

            using var validationOwner = validationImages;
            using var trainSet = BuildDataset(labeled, trainRows, backbone.Config);
            using var validationSet = validationImages is not null
                ? BuildDataset(validationImages, Enumerable.Range(0, validationImages.Labels.Length).ToArray(),
                    backbone.Config)
                : validationRows.Length > 0 ? BuildDataset(labeled, validationRows, backbone.Config) : null;

            // Seed before the method and head draw their initial values, so a seeded Fit is reproducible.
            torch.manual_seed(SeedOf(o));
            model = new PromptedVisionTransformer(
                backbone, o.GetMethodOptions(), classes.Count, ownsBackbone, o.GetHeadInitialization());
            ownsBackbone = false; // the model owns (and disposes) it now, when it was ours
            if (o.Precision == TrainingPrecision.BFloat16)
            {
                model.SetComputePrecision(torch.ScalarType.BFloat16);
            }

            channel.Info(MessageSensitivity.None,
                $"PromptViT: method '{model.Method.Id}', {model.CountTrainableParameters():N0} trainable parameters, " +
                $"backbone {backbone.Config.Name} ({backbone.Config.ImageHeight}x{backbone.Config.ImageWidth}x" +
                $"{backbone.Config.InChannels}), " +
                $"{classes.Count} classes, {trainSet.Count} training and {validationSet?.Count ?? 0} validation " +
                $"images.");

            var device = DeviceSelection.Resolve(o.Device, _host, nameof(o.Device));
            var engineOptions = o with { Seed = SeedOf(o), Device = DeviceSelection.ToEngineDevice(device) };
            var trainer = new ClassifierTrainer(engineOptions, new ChannelLogger(channel),
                new ProgressRelay(_host, o.Progress))
            {
                EpochCompleted = o.MetricsCallback,
            };
            var result = trainer.Train(model, trainSet, validationSet, o.CancellationToken);

            string fingerprint = BackboneFingerprint.Compute(model.Backbone);
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

    /// <summary>With resizing off, the backbone runs at the data's own image size (all images must share it).</summary>
    private static (VisionTransformer Backbone, bool Owns) AdaptToImageSize(
        VisionTransformer backbone, bool ownsBackbone, LabeledImages images, IChannel channel)
    {
        int height = (int)images.Images[0].shape[1], width = (int)images.Images[0].shape[2];
        for (int i = 1; i < images.Images.Count; i++)
        {
            if (images.Images[i].shape[1] != height || images.Images[i].shape[2] != width)
            {
                throw new ArgumentException(
                    $"With Options.ResizeImages = false every training image must have the same size; image {i} is " +
                    $"{images.Images[i].shape[2]}x{images.Images[i].shape[1]} but the first is {width}x{height}.",
                    nameof(Options.ResizeImages));
            }
        }

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

    private ImageTensorDataset BuildDataset(LabeledImages images, int[] rows, VitConfig config)
    {
        var pre = config.Preprocessing;
        using var builder = new ImageTensorDatasetBuilder(rows.Length, pre.Channels, pre.Height, pre.Width);
        foreach (int row in rows)
        {
            _host.CheckAlive();
            using var scope = torch.NewDisposeScope();
            var image = PixelRounding.ToEightBitRange(images.Images[row], _options.PixelValueScale)
                .to_type(torch.ScalarType.Byte);
            var pixels = image.contiguous().data<byte>().ToArray();
            builder.Add(pixels, (int)image.shape[0], (int)image.shape[1], (int)image.shape[2], images.Labels[row]);
        }

        return builder.Build();
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

    private void WarnAboutChannelConversion(IChannel channel, VitConfig config, LabeledImages images)
    {
        // Decoders hand out gray images as RGB with equal channels; only true colour loses anything in the luma step.
        if (config.InChannels == 1 && images.ColorImagesReduced > 0)
        {
            channel.Warning(MessageSensitivity.None,
                $"The backbone takes 1-channel images: {images.ColorImagesReduced} of {images.Images.Count} " +
                "training images are in color and were converted to grayscale (ITU-R 601 luma).");
        }
        else if (_options.PixelVectorShape is { Channels: 1 })
        {
            channel.Warning(MessageSensitivity.None,
                "The backbone takes RGB images: 1-channel pixel vectors are repeated into three channels.");
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
