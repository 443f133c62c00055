using System.Globalization;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// Settings of <see cref="ClassifierTrainer"/>. Every property states its default and valid range;
/// <see cref="Validate"/> checks them all and names the first invalid one.
/// </summary>
/// <remarks>
/// With the same options, data, model initialisation and <see cref="NumberOfThreads"/>, CPU training is
/// bit-identical from run to run, and resuming from a checkpoint gives the same weights as an uninterrupted run.
/// </remarks>
public sealed record TrainingOptions
{
    /// <summary>Optimiser. Default <see cref="OptimizerKind.AdamW"/>.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;

    /// <summary>Peak (base) learning rate, before warmup and decay and before each group's scale. Default 1e-3; range [0, 1e4].</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>
    /// Weight decay for parameter groups with <see cref="ParameterGroup.ApplyWeightDecay"/> = true (other groups get 0).
    /// Decoupled for AdamW, L2 added to the gradient for SGD. Default 0.01; range [0, 10].
    /// </summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>SGD momentum (ignored by AdamW). Default 0.9; range [0, 1).</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>AdamW β₁. Default 0.9; range [0, 1).</summary>
    public double AdamBeta1 { get; init; } = 0.9;

    /// <summary>AdamW β₂. Default 0.999; range [0, 1).</summary>
    public double AdamBeta2 { get; init; } = 0.999;

    /// <summary>AdamW ε. Default 1e-8; range (0, 1].</summary>
    public double AdamEpsilon { get; init; } = 1e-8;

    /// <summary>Number of passes over the training set. Default 10; range [1, 100000].</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Images per optimisation step; the last batch of an epoch may be smaller. Default 32; range [1, 65536].</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Images per scoring batch for validation; null uses <see cref="BatchSize"/>. Range [1, 65536].</summary>
    public int? EvaluationBatchSize { get; init; }

    /// <summary>Length of the linear warmup in epochs (fractions allowed for per-step schedules). Default 1; range [0, <see cref="Epochs"/>].</summary>
    public double WarmupEpochs { get; init; } = 1.0;

    /// <summary>Learning-rate schedule after warmup. Default <see cref="LearningRateSchedule.Cosine"/> (per step).</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Cosine;

    /// <summary>Label smoothing ε of the cross-entropy (target = (1−ε)·one-hot + ε/C). Default 0; range [0, 1).</summary>
    public double LabelSmoothing { get; init; }

    /// <summary>
    /// Clip the global L2 norm of all trainable gradients to this value before each step; 0 turns clipping off.
    /// Default 0 (off); range [0, 1e6].
    /// </summary>
    public double GradientClipNorm { get; init; }

    /// <summary>Seed of the global torch generator, the shuffling and the augmentation. Default 42; any value.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>
    /// libtorch intra-op threads, set for the whole process at the start of training; null keeps the current setting.
    /// CPU results are bit-identical only at a fixed thread count. Default null; range [1, 1024].
    /// </summary>
    public int? NumberOfThreads { get; init; }

    /// <summary>
    /// Compute device: <c>auto</c> (CUDA when available, else CPU), <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>. Default <c>auto</c>.
    /// </summary>
    public string Device { get; init; } = "auto";

    /// <summary>Forward precision. Default <see cref="TrainingPrecision.Float32"/>.</summary>
    public TrainingPrecision Precision { get; init; } = TrainingPrecision.Float32;

    /// <summary>
    /// Stop when validation accuracy has not improved by more than <see cref="EarlyStoppingMinDelta"/> for this many
    /// epochs, then restore the trainable parameters of the best epoch. Needs a validation set. 0 turns early
    /// stopping off (the last epoch's parameters are kept). Default 0; range [0, 100000].
    /// </summary>
    public int EarlyStoppingPatience { get; init; }

    /// <summary>Smallest accuracy gain (in [0, 1] units) that counts as an improvement. Default 0; range [0, 1).</summary>
    public double EarlyStoppingMinDelta { get; init; }

    /// <summary>
    /// Directory for the resumable training state, written atomically after every epoch; null disables checkpoints.
    /// Default null.
    /// </summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>
    /// Whether to continue from a checkpoint found in <see cref="CheckpointDirectory"/> (it must come from a run with
    /// the same settings and data). Default true.
    /// </summary>
    public bool ResumeFromCheckpoint { get; init; } = true;

    /// <summary>Random resized crop of training images (area [0.08, 1], ratio [3/4, 4/3]). Default false.</summary>
    public bool RandomResizedCrop { get; init; }

    /// <summary>Random horizontal flip of training images with probability 0.5. Default false.</summary>
    public bool HorizontalFlip { get; init; }

    /// <summary>Write a log line every this many steps (epoch summaries are always logged); 0 logs epochs only. Default 50; range [0, 1e9].</summary>
    public int LogEveryNSteps { get; init; } = 50;

    /// <summary>
    /// Every this many steps, release the memory that finished steps no longer use: a generation-0 garbage collection
    /// of TorchSharp's wrapper objects, so the managed heap does not grow to the GC's full young-generation budget; and
    /// after each epoch also glibc's <c>malloc_trim</c> (a no-op off glibc), which returns freed native pages to the
    /// operating system. It keeps resident memory flat over long runs without changing any result; 0 turns it off.
    /// Default 10; range [0, 1e9].
    /// </summary>
    public int ReleaseMemoryEveryNSteps { get; init; } = 10;

    /// <summary>Throws <see cref="ArgumentException"/> (or a subclass) naming the first invalid option, its value and the valid range.</summary>
    public void Validate()
    {
        Range(nameof(LearningRate), LearningRate, 0, 1e4);
        Range(nameof(WeightDecay), WeightDecay, 0, 10);
        Range(nameof(Momentum), Momentum, 0, 1, maxInclusive: false);
        Range(nameof(AdamBeta1), AdamBeta1, 0, 1, maxInclusive: false);
        Range(nameof(AdamBeta2), AdamBeta2, 0, 1, maxInclusive: false);
        Range(nameof(AdamEpsilon), AdamEpsilon, 0, 1, minInclusive: false);
        Range(nameof(Epochs), Epochs, 1, 100_000);
        Range(nameof(BatchSize), BatchSize, 1, 65_536);
        if (EvaluationBatchSize is { } evalBatch)
        {
            Range(nameof(EvaluationBatchSize), evalBatch, 1, 65_536);
        }

        Range(nameof(WarmupEpochs), WarmupEpochs, 0, Epochs);
        Range(nameof(LabelSmoothing), LabelSmoothing, 0, 1, maxInclusive: false);
        Range(nameof(GradientClipNorm), GradientClipNorm, 0, 1e6);
        if (NumberOfThreads is { } threads)
        {
            Range(nameof(NumberOfThreads), threads, 1, 1024);
        }

        Range(nameof(EarlyStoppingPatience), EarlyStoppingPatience, 0, 100_000);
        Range(nameof(EarlyStoppingMinDelta), EarlyStoppingMinDelta, 0, 1, maxInclusive: false);
        Range(nameof(LogEveryNSteps), LogEveryNSteps, 0, 1e9);
        Range(nameof(ReleaseMemoryEveryNSteps), ReleaseMemoryEveryNSteps, 0, 1e9);
        Defined(nameof(Optimizer), Optimizer);
        Defined(nameof(Schedule), Schedule);
        Defined(nameof(Precision), Precision);
        if (string.IsNullOrWhiteSpace(Device))
        {
            throw new ArgumentException("Device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got an empty value.", nameof(Device));
        }

        if (Schedule == LearningRateSchedule.CosinePerEpoch && WarmupEpochs != Math.Floor(WarmupEpochs))
        {
            throw new ArgumentException(
                $"WarmupEpochs must be a whole number with Schedule = CosinePerEpoch; got {Format(WarmupEpochs)}.",
                nameof(WarmupEpochs));
        }

        if (CheckpointDirectory is not null && string.IsNullOrWhiteSpace(CheckpointDirectory))
        {
            throw new ArgumentException("CheckpointDirectory must be null (no checkpoints) or a directory path; got an empty value.",
                nameof(CheckpointDirectory));
        }
    }

    private static void Range(string name, double value, double min, double max, bool minInclusive = true, bool maxInclusive = true)
    {
        bool ok = !double.IsNaN(value)
            && (minInclusive ? value >= min : value > min)
            && (maxInclusive ? value <= max : value < max);
        if (!ok)
        {
            var range = $"{(minInclusive ? "[" : "(")}{Format(min)}, {Format(max)}{(maxInclusive ? "]" : ")")}";
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be in {range}; got {Format(value)}.");
        }
    }

    private static void Defined<T>(string name, T value)
        where T : struct, Enum
    {
        if (!Enum.IsDefined(value))
        {
            throw new ArgumentOutOfRangeException(name, value,
                $"{name} must be one of {string.Join(", ", Enum.GetNames<T>())}; got {value}.");
        }
    }

    private static string Format(double value) => value.ToString("G", CultureInfo.InvariantCulture);
}
