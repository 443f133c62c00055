using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML;
using Microsoft.ML.SearchSpace;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Interop;
using MLNet.PromptTuning.Methods;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Persistence;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;

namespace MLNet.PromptTuning;

public sealed partial class PromptViTTrainer
{
    /// <summary>
    /// Everything <see cref="PromptViTTrainer"/> can be told: the columns, the backbone, the method (by id, with its
    /// own options) and every training setting of the engine, which this class inherits from
    /// <see cref="TrainingOptions"/> (one name, one default and one range per setting). Hyper-parameters are public
    /// properties carrying Microsoft.ML's search-space attributes, so an AutoML <c>SearchSpace&lt;Options&gt;</c> can
    /// sweep them; members that cannot round-trip through JSON (data views, callbacks, a loaded backbone) are marked
    /// <see cref="JsonIgnoreAttribute"/> and should be set in the sweep's factory lambda. See docs/options.md.
    /// </summary>
    public sealed record Options : TrainingOptions, IJsonOnDeserialized
    {
        private JsonElement? _methodOptionsJson;

        /// <summary>The defaults of the catalog's simple overload and of this class.</summary>
        public static new class Defaults
        {
            /// <summary>Label column: "Label".</summary>
            public const string LabelColumnName = "Label";

            /// <summary>Image column: "Image".</summary>
            public const string ImageColumnName = "Image";

            /// <summary>Score column: "Score".</summary>
            public const string ScoreColumnName = "Score";

            /// <summary>Predicted-label column: "PredictedLabel".</summary>
            public const string PredictedLabelColumnName = "PredictedLabel";

            /// <summary>The method used when neither <see cref="Method"/> nor <see cref="MethodOptions"/> is
            /// set.</summary>
            public const string Method = BuiltInPromptMethods.DefaultMethodId;

            /// <summary>Epochs: 10.</summary>
            public const int MaxEpoch = TrainingOptions.Defaults.MaxEpoch;

            /// <summary>Batch size: 32.</summary>
            public const int BatchSize = TrainingOptions.Defaults.BatchSize;

            /// <summary>Image cache: 1024 MiB (about 7,000 images of 224×224 RGB).</summary>
            public const int ImageCacheMegabytes = 1024;

            /// <summary>Precision: <see cref="TrainingPrecision.Auto"/> (bfloat16 where the hardware computes it
            /// natively and the backbone is frozen, float32 elsewhere).</summary>
            public const TrainingPrecision Precision = TrainingPrecision.Auto;

            /// <summary>Decoding threads: half the processor count, between 1 and 8.</summary>
            public static int DataLoadingThreads => Math.Clamp(Environment.ProcessorCount / 2, 1, 8);
        }

        /// <summary>The key-typed label column (use <c>MapValueToKey</c>). Default "Label".</summary>
        public string LabelColumnName { get; set; } = Defaults.LabelColumnName;

        /// <summary>
        /// The image column: <c>MLImage</c> (from <c>LoadImages</c>), encoded bytes (from <c>LoadRawImageBytes</c>) or
        /// a float/byte pixel vector in channel-planar order (from <c>ExtractPixels</c> with
        /// <c>interleavePixelColors: false</c>). Default "Image".
        /// </summary>
        public string ImageColumnName { get; set; } = Defaults.ImageColumnName;

        /// <summary>The output column of class probabilities. Default "Score".</summary>
        public string ScoreColumnName { get; set; } = Defaults.ScoreColumnName;

        /// <summary>The output key column of the most probable class. Default "PredictedLabel".</summary>
        public string PredictedLabelColumnName { get; set; } = Defaults.PredictedLabelColumnName;

        /// <summary>
        /// Path of the pretrained backbone weights: safetensors (timm, Hugging Face, MAE, MoCo v3, or this library's
        /// own) or a Google <c>.npz</c>. Pickled <c>.pt/.pth</c> files are refused (see docs/backbones.md). Ignored
        /// when <see cref="Backbone"/> is set. Nothing is ever downloaded.
        /// </summary>
        public string? BackbonePath { get; set; }

        /// <summary>The key layout of <see cref="BackbonePath"/>. Default <see cref="CheckpointFormat.Auto"/>
        /// (detected).</summary>
        public CheckpointFormat BackboneFormat { get; set; } = CheckpointFormat.Auto;

        /// <summary>
        /// The backbone's architecture. Default null: read from the file when it was written by this library;
        /// required for third-party files (for example <c>VitVariants.Base()</c>). A different image size than the
        /// checkpoint's is allowed: the position embedding is resampled.
        /// </summary>
        [JsonIgnore]
        public VitConfig? BackboneConfig { get; set; }

        /// <summary>
        /// An already-loaded backbone, so several trainers and models share one copy in memory. It is never modified
        /// and never disposed by the trainer or the models: a scope that trains the backbone, and
        /// <see cref="TrainingPrecision.BFloat16"/> precision, each use a private copy (the backbone's memory once
        /// more) and keep this one's values and element type.
        /// </summary>
        [JsonIgnore]
        public VisionTransformer? Backbone { get; set; }

        /// <summary>
        /// The method's id in <see cref="PromptMethodRegistry"/> (built in: vpt, tcpa, cvpt, lspt, sep, linear, full;
        /// see docs/options.md). Default null: the method of <see cref="MethodOptions"/>, or
        /// <see cref="Defaults.Method"/> when that is null too. When both are set they must name the same method.
        /// </summary>
        public string? Method { get; set; }

        /// <summary>
        /// The method's own options (for example <c>new VptOptions { PromptLength = 50 }</c>). Default null: the
        /// registry's defaults for <see cref="Method"/>. In JSON (AutoML parameters, configuration files) this is an
        /// object of the method's option values, read as the options type registered for <see cref="Method"/>.
        /// </summary>
        [JsonIgnore]
        public PromptMethodOptions? MethodOptions { get; set; }

        /// <summary>
        /// How the classification head starts. Default <see cref="HeadInitialization.SmallTruncatedNormal"/> (timm's:
        /// std 0.02, zero bias), which suits AdamW; <see cref="HeadInitialization.VptKaimingFanOut"/> reproduces the
        /// VPT codebase together with its SGD recipe.
        /// </summary>
        public HeadInitialization HeadInitialization { get; set; } = HeadInitialization.SmallTruncatedNormal;

        /// <summary>
        /// Data scored after every epoch. It does not pass through the pipeline, so it must already have the training
        /// data's columns in their trained form: a key-typed label mapped by the same <c>MapValueToKey</c> and the
        /// image column. Pass <c>prepare.Transform(validationRows)</c>, where <c>prepare</c> is the part of the
        /// pipeline before the trainer, fitted on the training rows. Default null.
        /// </summary>
        [JsonIgnore]
        public IDataView? ValidationSet { get; set; }

        /// <summary>
        /// When no <see cref="ValidationSet"/> is given, the fraction of training rows held out for validation
        /// (seeded, stratified by class). Default 0 (no validation); range [0, 0.5].
        /// </summary>
        public float ValidationSetFraction { get; set; }

        /// <summary>
        /// Resize images to the backbone's input size (default true). When false, every training image must have the
        /// same size, a multiple of the patch size, and the backbone runs at that resolution (its position embedding
        /// is resampled); images of another size at scoring time are resized to it.
        /// </summary>
        public bool ResizeImages { get; set; } = true;

        /// <summary>
        /// Shape of flat pixel vectors whose column type does not carry dimensions (channels, height, width in
        /// channel-planar order). Default null: taken from the column type.
        /// </summary>
        public PixelShape? PixelVectorShape { get; set; }

        /// <summary>
        /// Multiplier that maps float pixel values to [0, 1]. Default 1/255, for <c>ExtractPixels</c> without scaling;
        /// use 1 when pixels are already in [0, 1]. Float pixels are rounded to 8 bits like decoded images. Range: a
        /// positive finite value.
        /// </summary>
        public float PixelValueScale { get; set; } = 1f / 255f;

        /// <summary>
        /// Memory in MiB for keeping training and validation images after their first read, already resized to the
        /// backbone's input size as 8-bit pixels (one 224×224 RGB image takes 147 KiB, so 1,000 take 144 MiB).
        /// Images beyond it are read and decoded from the data view again every epoch, in bounded batches, so memory
        /// does not grow with the size of the data. Default 1024; range [0, 1048576]; 0 keeps nothing.
        /// </summary>
        public int ImageCacheMegabytes { get; set; } = Defaults.ImageCacheMegabytes;

        /// <summary>
        /// Threads that decode and resize images while the model computes (encoded bytes and pixel vectors are
        /// decoded on them; <c>LoadImages</c> decodes on the thread that reads the data view). Results do not depend
        /// on it. Default null: half the processor count, between 1 and 8. Range [1, 256].
        /// </summary>
        public int? DataLoadingThreads { get; set; }

        /// <summary>Rows one read window of the image sources holds (tests shrink it to cover many windows).</summary>
        internal int ReadWindowRows { get; set; } = DataViewImageSource.DefaultWindowRows;

        /// <summary>Receives a progress report after every step and validation (synchronously, on the training
        /// thread).</summary>
        [JsonIgnore]
        public IProgress<TrainingProgress>? Progress { get; set; }

        /// <summary>Receives each epoch's metrics: loss, train and validation accuracy, learning rate,
        /// duration.</summary>
        [JsonIgnore]
        public Action<EpochSummary>? MetricsCallback { get; set; }

        /// <summary>
        /// Cancels training between steps with an
        /// <see cref="OperationCanceledException"/>; the way to stop a run, since MLContext has no public cancel
        /// method. Default: none.
        /// </summary>
        [JsonIgnore]
        public CancellationToken CancellationToken { get; set; }

        /// <inheritdoc/>
        [Range(1, 200, 10, true)]
        public override int MaxEpoch { get => base.MaxEpoch; set => base.MaxEpoch = value; }

        /// <inheritdoc cref="TrainingOptions.Precision"/>
        /// <remarks>Default <see cref="TrainingPrecision.Auto"/>: bfloat16 compute of the frozen backbone on a CPU
        /// with AVX512-BF16 or AMX-BF16 or a CUDA GPU of compute capability 8.0 or newer, float32 elsewhere and
        /// whenever the backbone trains. The training log names the precision chosen. See docs/options.md.</remarks>
        public override TrainingPrecision Precision { get; set; } = Defaults.Precision;

        /// <inheritdoc/>
        [Choice(new object[] { 8, 16, 32, 64, 128 }, Defaults.BatchSize)]
        public override int BatchSize { get => base.BatchSize; set => base.BatchSize = value; }

        /// <inheritdoc/>
        [Range(1e-5, 1.0, 1e-3, true)]
        public override double? LearningRate { get => base.LearningRate; set => base.LearningRate = value; }

        /// <inheritdoc/>
        [Range(0.0, 0.1, 0.01, false)]
        public override double WeightDecay { get => base.WeightDecay; set => base.WeightDecay = value; }

        /// <inheritdoc/>
        [Range(0.0, 10.0, 1.0, false)]
        public override double? WarmupEpochs { get => base.WarmupEpochs; set => base.WarmupEpochs = value; }

        /// <inheritdoc/>
        [Range(0.0, 0.3, 0.0, false)]
        public override double LabelSmoothing { get => base.LabelSmoothing; set => base.LabelSmoothing = value; }

        /// <summary>
        /// The JSON form of <see cref="MethodOptions"/>: written from it, and read back as the options type registered
        /// for <see cref="Method"/> once the whole object is read (see <see cref="IJsonOnDeserialized"/>).
        /// </summary>
        [JsonInclude]
        [JsonPropertyName(nameof(MethodOptions))]
        private JsonElement? MethodOptionsJson
        {
            get => MethodOptions is null ? null : JsonSerializer.SerializeToElement(
                MethodOptions, MethodOptions.GetType(), ModelJson.Options);
            set => _methodOptionsJson = value;
        }

        /// <inheritdoc/>
        protected override string OwnerName => nameof(Options);

        /// <summary>
        /// The head initialisation that will be used: <see cref="HeadInitialization"/>, or the one of
        /// <see cref="TrainingOptions.Recipe"/> when <see cref="HeadInitialization"/> is still at its default.
        /// </summary>
        public HeadInitialization GetHeadInitialization() =>
            Recipe is { } name && HeadInitialization == HeadInitialization.SmallTruncatedNormal
                && TrainingRecipes.Find(name)?.HeadInitialization is { } recipeHead
                ? recipeHead
                : HeadInitialization;

        /// <summary>
        /// The method that will train: <see cref="MethodOptions"/> when set, otherwise the registry's defaults for
        /// <see cref="Method"/> (or <see cref="Defaults.Method"/>).
        /// </summary>
        /// <exception cref="ArgumentException">The id is not registered, or disagrees with <see
        /// cref="MethodOptions"/>.</exception>
        public PromptMethodOptions GetMethodOptions()
        {
            if (MethodOptions is { } options)
            {
                OptionChecks.Require(Method is null || Method == options.MethodId, nameof(Options), nameof(Method),
                    $"'{Method}'", $"'{options.MethodId}' (the method of Options.MethodOptions, " +
                    $"{options.GetType().Name}) or null");
                return options;
            }

            string id = Method ?? Defaults.Method;
            var registry = PromptMethodRegistry.Default;
            OptionChecks.Require(registry.Contains(id), nameof(Options), nameof(Method), $"'{id}'",
                $"a registered method id: {string.Join(", ", registry.Ids)}");
            return registry.CreateOptions(id);
        }

        /// <summary>
        /// Throws an <see cref="ArgumentException"/> naming the first option out of range, with the message
        /// <c>Options.X is V; expected R.</c>
        /// </summary>
        public override void Validate()
        {
            RequireName(LabelColumnName, nameof(LabelColumnName));
            RequireName(ImageColumnName, nameof(ImageColumnName));
            RequireName(ScoreColumnName, nameof(ScoreColumnName));
            RequireName(PredictedLabelColumnName, nameof(PredictedLabelColumnName));
            OptionChecks.Require(ScoreColumnName != PredictedLabelColumnName, nameof(Options),
                nameof(PredictedLabelColumnName), PredictedLabelColumnName,
                "a name other than Options.ScoreColumnName");
            OptionChecks.Require(Backbone is not null || !string.IsNullOrWhiteSpace(BackbonePath), nameof(Options),
                nameof(BackbonePath), BackbonePath,
                "the path of a pretrained ViT (safetensors or .npz), or a loaded VisionTransformer in " +
                "Options.Backbone");
            base.Validate();
            OptionChecks.Defined(nameof(Options), nameof(BackboneFormat), BackboneFormat);
            OptionChecks.Defined(nameof(Options), nameof(HeadInitialization), HeadInitialization);
            OptionChecks.InRange(nameof(Options), nameof(ValidationSetFraction), ValidationSetFraction, 0, 0.5);
            OptionChecks.Require(PixelValueScale > 0 && float.IsFinite(PixelValueScale), nameof(Options),
                nameof(PixelValueScale), PixelValueScale, "a positive finite multiplier");
            OptionChecks.InRange(nameof(Options), nameof(ImageCacheMegabytes), ImageCacheMegabytes, 0, 1 << 20);
            if (DataLoadingThreads is { } threads)
            {
                OptionChecks.InRange(nameof(Options), nameof(DataLoadingThreads), threads, 1, 256);
            }
            OptionChecks.Require(EarlyStoppingPatience == 0 || ValidationSet is not null || ValidationSetFraction > 0,
                nameof(Options), nameof(EarlyStoppingPatience), EarlyStoppingPatience,
                "0 when there is no validation data (set Options.ValidationSet or Options.ValidationSetFraction)");
            PixelVectorShape?.Validate(nameof(PixelVectorShape));
            GetMethodOptions().Scope.Validate();
        }

        void IJsonOnDeserialized.OnDeserialized()
        {
            if (_methodOptionsJson is { } json && json.ValueKind == JsonValueKind.Object)
            {
                string id = Method ?? Defaults.Method;
                MethodOptions = ModelJson.DeserializeMethodOptions(id, json.GetRawText(), methodAssembly: null);
            }

            _methodOptionsJson = null;
        }

        private static void RequireName(string value, string option) =>
            OptionChecks.Require(!string.IsNullOrWhiteSpace(value), nameof(Options), option, value, "a column name");
    }
}
