namespace MLNet.PromptTuning.Training;

/// <summary>
/// Settings of <see cref="ClassifierTrainer"/>: optimiser, schedule, epochs, batches, regularisation, early stopping,
/// checkpoints, device and threads. Every property states its default and valid range; <see cref="Validate"/> checks
/// them all and names the first invalid one. <c>PromptViTTrainer.Options</c> derives from this class, so the ML.NET
/// trainer and the engine share one set of names, defaults and ranges.
/// </summary>
/// <remarks>
/// With the same options, data, model initialisation and <see cref="NumberOfThreads"/>, CPU training is
/// bit-identical from run to run, and resuming from a checkpoint gives the same weights as an uninterrupted run.
/// </remarks>
public record TrainingOptions
{
    /// <summary>
    /// A named training recipe from a method's official code (<c>vpt</c>, <c>tcpa</c>, <c>cvpt</c>, <c>gapt</c> or
    /// <c>lspt</c>, <c>sep</c>; see <see cref="TrainingRecipes"/>): it fills every setting still at its default
    /// (optimiser, learning rate and its batch scaling, weight decay, warm-up, schedule, label smoothing, mixup,
    /// augmentation, batch size); settings given any other value keep it. Default null: the library's own defaults
    /// (the method's learning rate and warm-up).
    /// </summary>
    public string? Recipe { get; set; }

    /// <summary>Optimiser. Default <see cref="OptimizerKind.AdamW"/>.</summary>
    public OptimizerKind Optimizer { get; set; } = OptimizerKind.AdamW;

    /// <summary>
    /// Peak (base) learning rate, before warm-up and decay and before each group's scale. Default null: the model's
    /// own recommendation (for a prompt-tuned model, its method's <c>TrainingDefaults</c>; otherwise
    /// <see cref="TrainingDefaults.Generic"/>, 1e-3). Range [0, 100] (0 measures the loss without changing weights).
    /// </summary>
    public virtual double? LearningRate { get; set; }

    /// <summary>
    /// Weight decay for parameter groups with <see cref="ParameterGroup.ApplyWeightDecay"/> = true (other groups get
    /// 0). Decoupled for AdamW, L2 added to the gradient for SGD. Default 0.01; range [0, 10].
    /// </summary>
    public virtual double WeightDecay { get; set; } = Defaults.WeightDecay;

    /// <summary>SGD momentum (ignored by AdamW). Default 0.9; range [0, 1).</summary>
    public double Momentum { get; set; } = 0.9;

    /// <summary>AdamW β₁. Default 0.9; range [0, 1).</summary>
    public double AdamBeta1 { get; set; } = 0.9;

    /// <summary>AdamW β₂. Default 0.999; range [0, 1).</summary>
    public double AdamBeta2 { get; set; } = 0.999;

    /// <summary>AdamW ε. Default 1e-8; range (0, 1].</summary>
    public double AdamEpsilon { get; set; } = 1e-8;

    /// <summary>
    /// Passes over the training data (fewer when early stopping ends the run). Default 10; range [1, 100000].
    /// </summary>
    public virtual int MaxEpoch { get; set; } = Defaults.MaxEpoch;

    /// <summary>
    /// Images per optimisation step; the last batch of an epoch may be smaller, and a batch larger than the data is
    /// one batch. Default 32; range [1, 65536].
    /// </summary>
    public virtual int BatchSize { get; set; } = Defaults.BatchSize;

    /// <summary>
    /// Images per forward pass without gradients: validation during training and, in ML.NET, scoring when the model
    /// transforms data. Default 32; range [1, 65536].
    /// </summary>
    public int InferenceBatchSize { get; set; } = Defaults.InferenceBatchSize;

    /// <summary>
    /// Length of the linear warm-up in epochs (fractions allowed for per-step schedules). Default null: the model's own
    /// recommendation (see <see cref="LearningRate"/>), capped at <see cref="MaxEpoch"/>. Range [0, MaxEpoch].
    /// </summary>
    public virtual double? WarmupEpochs { get; set; }

    /// <summary>Learning-rate schedule after warm-up. Default <see cref="LearningRateSchedule.Cosine"/> (per
    /// step).</summary>
    public LearningRateSchedule Schedule { get; set; } = LearningRateSchedule.Cosine;

    /// <summary>Label smoothing ε of the cross-entropy (target = (1−ε)·one-hot + ε/C). Default 0; range [0,
    /// 1).</summary>
    public virtual double LabelSmoothing { get; set; }

    /// <summary>
    /// Mixup's α: each mixed batch is λ·x + (1−λ)·x[perm] with λ ~ Beta(α, α) and the same mix of the (smoothed)
    /// one-hot targets, trained with soft-target cross-entropy (Zhang et al., ICLR 2018). 0 turns mixup off.
    /// Default 0; range [0, 100].
    /// </summary>
    public double MixupAlpha { get; set; }

    /// <summary>
    /// The share of training batches that are mixed when <see cref="MixupAlpha"/> is positive; the others train on
    /// their (smoothed) targets unmixed. Default 1; range [0, 1].
    /// </summary>
    public double MixupProbability { get; set; } = 1;

    /// <summary>
    /// Clip the global L2 norm of all trainable gradients to this value before each step; 0 turns clipping off.
    /// Default 0 (off); range [0, 1e6].
    /// </summary>
    public double GradientClipNorm { get; set; }

    /// <summary>
    /// Seed of initialisation, shuffling, dropout and augmentation. Default null: 1 (in ML.NET, the MLContext's seed
    /// when it was created with one); any value.
    /// </summary>
    public int? Seed { get; set; }

    /// <summary>
    /// libtorch intra-op threads, set for the whole process at the start of training; null keeps the current setting.
    /// CPU results are bit-identical only at a fixed thread count. Default null; range [1, 1024].
    /// </summary>
    public int? NumberOfThreads { get; set; }

    /// <summary>
    /// Lets a linear probe without augmentation compute each image's frozen features once and train the head on them
    /// afterwards (true). Tests turn it off to compare with the full forward pass every step.
    /// </summary>
    internal bool ReuseFrozenFeatures { get; set; } = true;

    /// <summary>
    /// Compute device: <c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>. Default <c>auto</c>: for the engine the
    /// first CUDA device when one is available, else the CPU; in ML.NET the MLContext's <c>GpuDeviceId</c> when it is
    /// set and CUDA is available, else the CPU. CUDA needs the application built with <c>-p:TorchBackend=cuda</c>.
    /// </summary>
    public string Device { get; set; } = Defaults.Device;

    /// <summary>
    /// Forward-pass precision of the frozen backbone: <see cref="TrainingPrecision.Float32"/> (the engine's default)
    /// or BFloat16 (not when the backbone itself trains). <see cref="TrainingPrecision.Auto"/>, the default of
    /// <c>PromptViTTrainer.Options</c>, is resolved by that trainer; <see cref="ClassifierTrainer"/> refuses it.
    /// </summary>
    public virtual TrainingPrecision Precision { get; set; } = TrainingPrecision.Float32;

    /// <summary>
    /// Stop when validation accuracy has not improved by more than <see cref="EarlyStoppingMinDelta"/> for this many
    /// epochs, then restore the trainable parameters of the best epoch. Needs validation data. 0 turns early
    /// stopping off (the last epoch's parameters are kept). Default 0; range [0, 100000].
    /// </summary>
    public int EarlyStoppingPatience { get; set; }

    /// <summary>Smallest accuracy gain (in [0, 1] units) that counts as an improvement. Default 0; range [0,
    /// 1).</summary>
    public double EarlyStoppingMinDelta { get; set; }

    /// <summary>
    /// Directory for the resumable training state, written atomically after every epoch; training resumes from it
    /// when it holds a checkpoint of the same settings and data. Default null (no checkpoints).
    /// </summary>
    public string? CheckpointDirectory { get; set; }

    /// <summary>
    /// Whether to continue from a checkpoint found in <see cref="CheckpointDirectory"/> (it must come from a run with
    /// the same settings and data). Default true.
    /// </summary>
    public bool ResumeFromCheckpoint { get; set; } = true;

    /// <summary>Random resized crop of training images (area [0.08, 1], ratio [3/4, 4/3]). Default false.</summary>
    public bool RandomResizedCrop { get; set; }

    /// <summary>Random horizontal flip of training images with probability 0.5. Default false.</summary>
    public bool HorizontalFlip { get; set; }

    /// <summary>
    /// Write a log line every this many steps (epoch summaries are always logged); 0 logs epochs only. Default 50;
    /// range [0, 1e9].
    /// </summary>
    public int LogEveryNSteps { get; set; } = 50;

    /// <summary>
    /// Every this many steps, release the memory that finished steps no longer use: a generation-0 garbage collection
    /// of TorchSharp's wrapper objects, so the managed heap does not grow to the GC's full young-generation budget; and
    /// after each epoch also glibc's <c>malloc_trim</c> (a no-op off glibc), which returns freed native pages to the
    /// operating system. It keeps resident memory flat over long runs without changing any result; 0 turns it off.
    /// Default 10; range [0, 1e9].
    /// </summary>
    public int ReleaseMemoryEveryNSteps { get; set; } = 10;

    /// <summary>
    /// Throws an <see cref="ArgumentException"/> (or a subclass) whose parameter name is the first invalid option and
    /// whose message reads <c>{class}.{option} is {value}; expected {range}.</c>
    /// </summary>
    public virtual void Validate()
    {
        string owner = OwnerName;
        if (LearningRate is { } rate)
        {
            OptionChecks.InRange(owner, nameof(LearningRate), rate, 0, 100);
        }

        OptionChecks.InRange(owner, nameof(WeightDecay), WeightDecay, 0, 10);
        OptionChecks.InRange(owner, nameof(Momentum), Momentum, 0, 1, maxInclusive: false);
        OptionChecks.InRange(owner, nameof(AdamBeta1), AdamBeta1, 0, 1, maxInclusive: false);
        OptionChecks.InRange(owner, nameof(AdamBeta2), AdamBeta2, 0, 1, maxInclusive: false);
        OptionChecks.InRange(owner, nameof(AdamEpsilon), AdamEpsilon, 0, 1, minInclusive: false);
        OptionChecks.InRange(owner, nameof(MaxEpoch), MaxEpoch, 1, 100_000);
        OptionChecks.InRange(owner, nameof(BatchSize), BatchSize, 1, 65_536);
        OptionChecks.InRange(owner, nameof(InferenceBatchSize), InferenceBatchSize, 1, 65_536);
        if (WarmupEpochs is { } warmup)
        {
            OptionChecks.Require(warmup >= 0 && warmup <= MaxEpoch, owner, nameof(WarmupEpochs), warmup,
                $"[0, MaxEpoch = {MaxEpoch}]");
        }

        OptionChecks.InRange(owner, nameof(LabelSmoothing), LabelSmoothing, 0, 1, maxInclusive: false);
        OptionChecks.InRange(owner, nameof(MixupAlpha), MixupAlpha, 0, 100);
        OptionChecks.InRange(owner, nameof(MixupProbability), MixupProbability, 0, 1);
        OptionChecks.Require(Recipe is null || TrainingRecipes.Find(Recipe) is not null, owner, nameof(Recipe), Recipe,
            $"null or a recipe name: {string.Join(", ", TrainingRecipes.Names)}");
        OptionChecks.InRange(owner, nameof(GradientClipNorm), GradientClipNorm, 0, 1e6);
        if (NumberOfThreads is { } threads)
        {
            OptionChecks.InRange(owner, nameof(NumberOfThreads), threads, 1, 1024);
        }

        OptionChecks.InRange(owner, nameof(EarlyStoppingPatience), EarlyStoppingPatience, 0, 100_000);
        OptionChecks.InRange(owner, nameof(EarlyStoppingMinDelta), EarlyStoppingMinDelta, 0, 1, maxInclusive: false);
        OptionChecks.InRange(owner, nameof(LogEveryNSteps), LogEveryNSteps, 0, 1e9);
        OptionChecks.InRange(owner, nameof(ReleaseMemoryEveryNSteps), ReleaseMemoryEveryNSteps, 0, 1e9);
        OptionChecks.Defined(owner, nameof(Optimizer), Optimizer);
        OptionChecks.Defined(owner, nameof(Schedule), Schedule);
        OptionChecks.Defined(owner, nameof(Precision), Precision);
        OptionChecks.Require(!string.IsNullOrWhiteSpace(Device), owner, nameof(Device), Device,
            "'auto', 'cpu', 'cuda' or 'cuda:N'");
        OptionChecks.Require(Schedule != LearningRateSchedule.CosinePerEpoch || WarmupEpochs is not { } w
            || w == Math.Floor(w),
            owner, nameof(WarmupEpochs), WarmupEpochs, "a whole number of epochs with Schedule = CosinePerEpoch");
        OptionChecks.Require(CheckpointDirectory is null || !string.IsNullOrWhiteSpace(CheckpointDirectory), owner,
            nameof(CheckpointDirectory), CheckpointDirectory, "null (no checkpoints) or a directory path");
    }

    /// <summary>
    /// These options with <see cref="Recipe"/>'s values filled in (see <see cref="TrainingRecipe.ApplyTo"/>); the
    /// options themselves when no recipe is named.
    /// </summary>
    public TrainingOptions WithRecipeApplied() => Recipe is null ? this : TrainingRecipes.Get(Recipe).ApplyTo(this);

    /// <summary>The class name used in validation messages (<c>TrainingOptions</c>, or <c>Options</c> in
    /// ML.NET).</summary>
    protected virtual string OwnerName => nameof(TrainingOptions);

    /// <summary>The defaults of the settings whose default is a plain value.</summary>
    public static class Defaults
    {
        /// <summary>Epochs: 10.</summary>
        public const int MaxEpoch = 10;

        /// <summary>Batch size: 32.</summary>
        public const int BatchSize = 32;

        /// <summary>Scoring and validation batch size: 32.</summary>
        public const int InferenceBatchSize = 32;

        /// <summary>Weight decay: 0.01.</summary>
        public const double WeightDecay = 0.01;

        /// <summary>Seed used when <see cref="Seed"/> is null (and, in ML.NET, the MLContext has none): 1.</summary>
        public const int Seed = 1;

        /// <summary>Device: <c>auto</c>.</summary>
        public const string Device = "auto";
    }
}
