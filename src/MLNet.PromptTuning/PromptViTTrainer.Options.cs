using System.Text.Json.Serialization;
using Microsoft.ML;
using Microsoft.ML.SearchSpace;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Methods.Cvpt;
using MLNet.PromptTuning.Methods.FullFineTune;
using MLNet.PromptTuning.Methods.LinearProbe;
using MLNet.PromptTuning.Methods.Lspt;
using MLNet.PromptTuning.Methods.Sep;
using MLNet.PromptTuning.Methods.Tcpa;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;

namespace MLNet.PromptTuning;

public sealed partial class PromptViTTrainer
{
    /// <summary>
    /// Everything <see cref="PromptViTTrainer"/> can be told. Hyper-parameters are public properties carrying
    /// Microsoft.ML's search-space attributes, so an AutoML <c>SearchSpace&lt;Options&gt;</c> can sweep them; members
    /// that cannot round-trip through JSON (data views, callbacks, a loaded backbone) are marked
    /// <see cref="JsonIgnoreAttribute"/> and should be set in the sweep's factory lambda.
    /// </summary>
    public sealed class Options
    {
        /// <summary>Defaults shared by the options and the simple catalog overload.</summary>
        public static class Defaults
        {
            /// <summary>Label column: "Label".</summary>
            public const string LabelColumnName = "Label";

            /// <summary>Image column: "Image".</summary>
            public const string ImageColumnName = "Image";

            /// <summary>Score column: "Score".</summary>
            public const string ScoreColumnName = "Score";

            /// <summary>Predicted-label column: "PredictedLabel".</summary>
            public const string PredictedLabelColumnName = "PredictedLabel";

            /// <summary>Method: VPT-Deep.</summary>
            public const string Method = VptOptions.Id;

            /// <summary>Epochs: 10.</summary>
            public const int MaxEpoch = 10;

            /// <summary>Batch size: 32.</summary>
            public const int BatchSize = 32;

            /// <summary>Learning rate: 1e-3 (AdamW).</summary>
            public const float LearningRate = 1e-3f;
        }

        /// <summary>The key-typed label column (use <c>MapValueToKey</c>). Default "Label".</summary>
        public string LabelColumnName { get; set; } = Defaults.LabelColumnName;

        /// <summary>
        /// The image column: <c>MLImage</c> (from <c>LoadImages</c>), encoded bytes (from <c>LoadRawImageBytes</c>) or a
        /// float/byte pixel vector in channel-planar order (from <c>ExtractPixels</c> with
        /// <c>interleavePixelColors: false</c>). Default "Image".
        /// </summary>
        public string ImageColumnName { get; set; } = Defaults.ImageColumnName;

        /// <summary>The output column of class probabilities. Default "Score".</summary>
        public string ScoreColumnName { get; set; } = Defaults.ScoreColumnName;

        /// <summary>The output key column of the most probable class. Default "PredictedLabel".</summary>
        public string PredictedLabelColumnName { get; set; } = Defaults.PredictedLabelColumnName;

        /// <summary>
        /// Path of the pretrained backbone weights: safetensors (timm, Hugging Face, MAE, MoCo v3, or this library's own)
        /// or a Google <c>.npz</c>. Pickled <c>.pt/.pth</c> files are refused (see docs/backbones.md). Ignored when
        /// <see cref="Backbone"/> is set. Nothing is ever downloaded.
        /// </summary>
        public string? BackbonePath { get; set; }

        /// <summary>The key layout of <see cref="BackbonePath"/>. Default <see cref="CheckpointFormat.Auto"/> (detected).</summary>
        public CheckpointFormat BackboneFormat { get; set; } = CheckpointFormat.Auto;

        /// <summary>
        /// The backbone's architecture. Default null: read from the file when it was written by this library; required
        /// for third-party files (for example <c>VitVariants.Base()</c>). A different image size than the checkpoint's
        /// is allowed: the position embedding is resampled.
        /// </summary>
        [JsonIgnore]
        public VitConfig? BackboneConfig { get; set; }

        /// <summary>
        /// An already-loaded backbone, so several trainers and models share one copy in memory. It is never modified
        /// (full fine-tuning trains a private copy) and never disposed by the trainer or the models.
        /// </summary>
        [JsonIgnore]
        public VisionTransformer? Backbone { get; set; }

        /// <summary>
        /// The method: <c>vpt</c> (default), <c>tcpa</c>, <c>cvpt</c>, <c>lspt</c>, <c>sep</c>, <c>linear</c> (linear probe)
        /// or <c>full</c> (full fine-tuning). Its settings are in the property of the same name below.
        /// </summary>
        [Choice(new object[] { "vpt", "tcpa", "cvpt", "lspt", "sep", "linear", "full" }, Defaults.Method)]
        public string Method { get; set; } = Defaults.Method;

        /// <summary>VPT settings, used when <see cref="Method"/> is <c>vpt</c>.</summary>
        [NestOption]
        public VptOptions Vpt { get; set; } = new();

        /// <summary>TCPA settings, used when <see cref="Method"/> is <c>tcpa</c>.</summary>
        [NestOption]
        public TcpaOptions Tcpa { get; set; } = new();

        /// <summary>CVPT settings, used when <see cref="Method"/> is <c>cvpt</c>.</summary>
        [NestOption]
        public CvptOptions Cvpt { get; set; } = new();

        /// <summary>LSPT settings, used when <see cref="Method"/> is <c>lspt</c>.</summary>
        [NestOption]
        public LsptOptions Lspt { get; set; } = new();

        /// <summary>SEP settings, used when <see cref="Method"/> is <c>sep</c>.</summary>
        [NestOption]
        public SepOptions Sep { get; set; } = new();

        /// <summary>Full fine-tuning settings, used when <see cref="Method"/> is <c>full</c>.</summary>
        [NestOption]
        public FullFineTuneOptions FullFineTune { get; set; } = new();

        /// <summary>
        /// Options of a method registered in a custom <see cref="PromptMethodRegistry"/>; when set it replaces
        /// <see cref="Method"/> and the per-method properties.
        /// </summary>
        [JsonIgnore]
        public PromptMethodOptions? MethodOptions { get; set; }

        /// <summary>Where <see cref="MethodOptions"/> ids resolve; default <see cref="PromptMethodRegistry.Default"/>.</summary>
        [JsonIgnore]
        public PromptMethodRegistry? MethodRegistry { get; set; }

        /// <summary>Passes over the training data. Default 10; range [1, 10000].</summary>
        [Range(1, 200, 10, true)]
        public int MaxEpoch { get; set; } = Defaults.MaxEpoch;

        /// <summary>Images per optimisation step. Default 32; range [1, 4096]. Larger than the data is allowed (one batch).</summary>
        [Choice(new object[] { 8, 16, 32, 64, 128 }, Defaults.BatchSize)]
        public int BatchSize { get; set; } = Defaults.BatchSize;

        /// <summary>Peak learning rate after warmup. Default 1e-3; range (0, 100].</summary>
        [Range(1e-5f, 1f, Defaults.LearningRate, true)]
        public float LearningRate { get; set; } = Defaults.LearningRate;

        /// <summary>Weight decay (decoupled for AdamW, L2 for SGD); biases and gates are exempt per method. Default 0.01; range [0, 1].</summary>
        [Range(0f, 0.1f, 0.01f, false)]
        public float WeightDecay { get; set; } = 0.01f;

        /// <summary>AdamW (default) or SGD with momentum 0.9 (the VPT papers' optimiser).</summary>
        public OptimizerKind Optimizer { get; set; } = OptimizerKind.AdamW;

        /// <summary>
        /// How the classification head starts. Default <see cref="HeadInitialization.SmallTruncatedNormal"/> (timm's:
        /// std 0.02, zero bias), which suits AdamW; <see cref="HeadInitialization.VptKaimingFanOut"/> reproduces the VPT
        /// codebase together with its SGD recipe.
        /// </summary>
        public HeadInitialization HeadInitialization { get; set; } = HeadInitialization.SmallTruncatedNormal;

        /// <summary>Epochs of linear warmup before cosine decay. Default 1; range [0, MaxEpoch].</summary>
        [Range(0f, 10f, 1f, false)]
        public float WarmupEpochs { get; set; } = 1;

        /// <summary>Label smoothing of the cross-entropy. Default 0; range [0, 1).</summary>
        [Range(0f, 0.3f, 0f, false)]
        public float LabelSmoothing { get; set; }

        /// <summary>Maximum global gradient norm; 0 (default) disables clipping.</summary>
        public float GradientClipNorm { get; set; }

        /// <summary>Random seed of initialisation, shuffling, dropout and augmentation. Default null: the MLContext's seed (or 1).</summary>
        public int? Seed { get; set; }

        /// <summary>
        /// Device: <c>auto</c> (default: the MLContext's GPU when <c>GpuDeviceId</c> is set and CUDA is available,
        /// otherwise CPU), <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>. CUDA needs the application built with
        /// <c>-p:TorchBackend=cuda</c>.
        /// </summary>
        public string Device { get; set; } = "auto";

        /// <summary>Forward-pass precision of the frozen backbone: Float32 (default) or BFloat16 (not with full fine-tuning).</summary>
        public TrainingPrecision Precision { get; set; } = TrainingPrecision.Float32;

        /// <summary>Threads libtorch uses on the CPU; null (default) keeps libtorch's choice. Results are bit-identical only at a fixed count.</summary>
        public int? NumberOfThreads { get; set; }

        /// <summary>Data scored after every epoch (same columns as the training data).</summary>
        [JsonIgnore]
        public IDataView? ValidationSet { get; set; }

        /// <summary>
        /// When no <see cref="ValidationSet"/> is given, the fraction of training rows held out for validation
        /// (seeded, stratified by class). Default 0 (no validation); range [0, 0.5].
        /// </summary>
        public float ValidationSetFraction { get; set; }

        /// <summary>Stop after this many epochs without validation improvement and restore the best epoch; 0 (default) disables.</summary>
        public int EarlyStoppingPatience { get; set; }

        /// <summary>Smallest validation-accuracy gain that counts as improvement. Default 0.</summary>
        public float EarlyStoppingMinDelta { get; set; }

        /// <summary>Random resized crop on training images (scale 0.08–1). Default off, as the VTAB-1k protocol.</summary>
        public bool RandomResizedCrop { get; set; }

        /// <summary>Random horizontal flip on training images. Default off.</summary>
        public bool HorizontalFlip { get; set; }

        /// <summary>
        /// Resize images to the backbone's input size (default true). When false, every training image must have the
        /// same size, a multiple of the patch size, and the backbone runs at that resolution (its position embedding is
        /// resampled); images of another size at scoring time are resized to it.
        /// </summary>
        public bool ResizeImages { get; set; } = true;

        /// <summary>Rows scored per forward pass when the model transforms data. Default 32; range [1, 4096].</summary>
        public int InferenceBatchSize { get; set; } = 32;

        /// <summary>
        /// Shape of flat pixel vectors whose column type does not carry dimensions (channels, height, width in
        /// channel-planar order). Default null: taken from the column type.
        /// </summary>
        public PixelShape? PixelVectorShape { get; set; }

        /// <summary>
        /// Multiplier that maps float pixel values to [0, 1]. Default 1/255, for <c>ExtractPixels</c> without scaling;
        /// use 1 when pixels are already in [0, 1]. Float pixels are rounded to 8 bits like decoded images.
        /// </summary>
        public float PixelValueScale { get; set; } = 1f / 255f;

        /// <summary>A folder for per-epoch checkpoints; training resumes from it when it holds a matching one. Default none.</summary>
        public string? CheckpointDirectory { get; set; }

        /// <summary>Receives a progress report after every step and validation (synchronously, on the training thread).</summary>
        [JsonIgnore]
        public IProgress<TrainingProgress>? Progress { get; set; }

        /// <summary>Receives each epoch's metrics: loss, train and validation accuracy, learning rate, duration.</summary>
        [JsonIgnore]
        public Action<EpochSummary>? MetricsCallback { get; set; }

        /// <summary>Cancels training between steps (as <c>MLContext</c> cancellation does).</summary>
        [JsonIgnore]
        public CancellationToken CancellationToken { get; set; }

        /// <summary>The method options selected by <see cref="MethodOptions"/> or <see cref="Method"/>.</summary>
        public PromptMethodOptions ResolveMethodOptions() => MethodOptions ?? Method switch
        {
            VptOptions.Id => Vpt,
            TcpaOptions.Id => Tcpa,
            CvptOptions.Id => Cvpt,
            LsptOptions.Id => Lspt,
            SepOptions.Id => Sep,
            LinearProbeOptions.Id => new LinearProbeOptions(),
            FullFineTuneOptions.Id => FullFineTune,
            _ => throw new ArgumentOutOfRangeException(nameof(Method), Method,
                $"Options.Method is '{Method}'; expected one of vpt, tcpa, cvpt, lspt, sep, linear, full " +
                "(or set Options.MethodOptions for a custom method)."),
        };

        /// <summary>Throws an <see cref="ArgumentException"/> naming the first option out of range, its value and the range.</summary>
        public void Validate()
        {
            RequireName(LabelColumnName, nameof(LabelColumnName));
            RequireName(ImageColumnName, nameof(ImageColumnName));
            RequireName(ScoreColumnName, nameof(ScoreColumnName));
            RequireName(PredictedLabelColumnName, nameof(PredictedLabelColumnName));
            if (ScoreColumnName == PredictedLabelColumnName)
            {
                throw new ArgumentException(
                    $"Options.ScoreColumnName and Options.PredictedLabelColumnName are both '{ScoreColumnName}'; they must differ.",
                    nameof(PredictedLabelColumnName));
            }

            if (Backbone is null && string.IsNullOrWhiteSpace(BackbonePath))
            {
                throw new ArgumentException(
                    "Options.BackbonePath is empty and Options.Backbone is null; give the path of a pretrained ViT " +
                    "(safetensors or .npz) or a loaded VisionTransformer.", nameof(BackbonePath));
            }

            Require(MaxEpoch is >= 1 and <= 10_000, nameof(MaxEpoch), MaxEpoch, "[1, 10000]");
            Require(BatchSize is >= 1 and <= 4096, nameof(BatchSize), BatchSize, "[1, 4096]");
            Require(InferenceBatchSize is >= 1 and <= 4096, nameof(InferenceBatchSize), InferenceBatchSize, "[1, 4096]");
            Require(LearningRate > 0 && LearningRate <= 100 && float.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "(0, 100]");
            Require(WeightDecay is >= 0 and <= 1, nameof(WeightDecay), WeightDecay, "[0, 1]");
            Require(WarmupEpochs >= 0 && WarmupEpochs <= MaxEpoch, nameof(WarmupEpochs), WarmupEpochs, $"[0, MaxEpoch = {MaxEpoch}]");
            Require(LabelSmoothing is >= 0 and < 1, nameof(LabelSmoothing), LabelSmoothing, "[0, 1)");
            Require(GradientClipNorm >= 0 && float.IsFinite(GradientClipNorm), nameof(GradientClipNorm), GradientClipNorm, "0 (off) or a positive norm");
            Require(ValidationSetFraction is >= 0 and <= 0.5f, nameof(ValidationSetFraction), ValidationSetFraction, "[0, 0.5]");
            Require(EarlyStoppingPatience >= 0, nameof(EarlyStoppingPatience), EarlyStoppingPatience, "0 (off) or a positive number of epochs");
            Require(Enum.IsDefined(HeadInitialization), nameof(HeadInitialization), HeadInitialization,
                $"one of {string.Join(", ", Enum.GetNames<HeadInitialization>())}");
            Require(PixelValueScale > 0 && float.IsFinite(PixelValueScale), nameof(PixelValueScale), PixelValueScale, "a positive multiplier");
            if (EarlyStoppingPatience > 0 && ValidationSet is null && ValidationSetFraction == 0)
            {
                throw new ArgumentException(
                    $"Options.EarlyStoppingPatience is {EarlyStoppingPatience} but there is no validation data; set " +
                    "Options.ValidationSet or Options.ValidationSetFraction, or set EarlyStoppingPatience to 0.",
                    nameof(EarlyStoppingPatience));
            }

            PixelVectorShape?.Validate(nameof(PixelVectorShape));
            _ = ResolveMethodOptions();
        }

        private static void RequireName(string value, string option)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                throw new ArgumentException($"Options.{option} is empty; give a column name.", option);
            }
        }

        private static void Require(bool condition, string option, object value, string range)
        {
            if (!condition)
            {
                throw new ArgumentOutOfRangeException(option, value, $"Options.{option} is {value}; expected {range}.");
            }
        }
    }
}
