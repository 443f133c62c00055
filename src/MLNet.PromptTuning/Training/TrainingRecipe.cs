using MLNet.PromptTuning.Modeling;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// A named set of training settings taken from a method's official code: optimiser, base learning rate and how it
/// scales with the batch, weight decay, warm-up, schedule, label smoothing, mixup, augmentation, batch size and head
/// initialisation. Select one with <see cref="TrainingOptions.Recipe"/>; the built-ins are in
/// <see cref="TrainingRecipes"/> (docs/training-engine.md lists each with its source).
/// </summary>
/// <remarks>
/// A recipe fills the settings a caller left alone: an option still at its documented default (and a null
/// <see cref="TrainingOptions.LearningRate"/> or <see cref="TrainingOptions.WarmupEpochs"/>) takes the recipe's value,
/// an option set to any other value keeps it. The number of epochs is never the recipe's: official runs use 50 to 100
/// epochs, so <see cref="WarmupFraction"/> states the warm-up as a share of <see cref="TrainingOptions.MaxEpoch"/>.
/// </remarks>
public sealed record TrainingRecipe
{
    /// <summary>The recipe's name, as <see cref="TrainingOptions.Recipe"/> selects it (lower case).</summary>
    public required string Name { get; init; }

    /// <summary>Where the settings come from: the official repository and what was read there.</summary>
    public required string Source { get; init; }

    /// <summary>The optimiser.</summary>
    public required OptimizerKind Optimizer { get; init; }

    /// <summary>
    /// Base learning rate. Used as given when <see cref="LearningRateReferenceBatchSize"/> is null; otherwise scaled to
    /// the batch in use: <c>rate · BatchSize / LearningRateReferenceBatchSize</c> (VPT's tuning scripts divide by
    /// 256).
    /// </summary>
    public required double LearningRate { get; init; }

    /// <summary>The batch size <see cref="LearningRate"/> refers to, or null when the rate is used as given.</summary>
    public int? LearningRateReferenceBatchSize { get; init; }

    /// <summary>Weight decay (decoupled for AdamW, L2 for SGD).</summary>
    public required double WeightDecay { get; init; }

    /// <summary>SGD momentum. Default 0.9.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Adam's ε. Default 1e-8.</summary>
    public double AdamEpsilon { get; init; } = 1e-8;

    /// <summary>Images per step.</summary>
    public required int BatchSize { get; init; }

    /// <summary>
    /// Warm-up as a share of <see cref="TrainingOptions.MaxEpoch"/> (0.1 = the official 10 of 100 epochs); rounded to
    /// whole epochs, and at least one epoch when the share is positive.
    /// </summary>
    public required double WarmupFraction { get; init; }

    /// <summary>The schedule after warm-up.</summary>
    public required LearningRateSchedule Schedule { get; init; }

    /// <summary>Label smoothing ε (folded into the mixup targets when mixup is on). Default 0.</summary>
    public double LabelSmoothing { get; init; }

    /// <summary>Mixup's α (0 = no mixup). Default 0.</summary>
    public double MixupAlpha { get; init; }

    /// <summary>Share of batches that are mixed when <see cref="MixupAlpha"/> is positive. Default 1.</summary>
    public double MixupProbability { get; init; } = 1;

    /// <summary>Random resized crop of training images. Default false.</summary>
    public bool RandomResizedCrop { get; init; }

    /// <summary>Random horizontal flip of training images. Default false.</summary>
    public bool HorizontalFlip { get; init; }

    /// <summary>
    /// How the classification head starts, for trainers that build the head (the ML.NET trainer); null leaves the
    /// trainer's setting alone.
    /// </summary>
    public HeadInitialization? HeadInitialization { get; init; }

    /// <summary>The warm-up this recipe gives a run of <paramref name="maxEpoch"/> epochs.</summary>
    public double WarmupEpochsFor(int maxEpoch) => WarmupFraction <= 0 ? 0
        : Math.Min(maxEpoch, Math.Max(1, Math.Round(WarmupFraction * maxEpoch, MidpointRounding.AwayFromZero)));

    /// <summary>The peak learning rate for batches of <paramref name="batchSize"/> images.</summary>
    public double LearningRateFor(int batchSize) => LearningRateReferenceBatchSize is { } reference
        ? LearningRate * batchSize / reference
        : LearningRate;

    /// <summary>
    /// <paramref name="options"/> with this recipe's values in every setting still at its default (see the remarks of
    /// this type); <see cref="TrainingOptions.Recipe"/> is cleared in the result, which is ready for the engine.
    /// </summary>
    public T ApplyTo<T>(T options)
        where T : TrainingOptions
    {
        ArgumentNullException.ThrowIfNull(options);
        var defaults = new TrainingOptions();
        int batch = options.BatchSize == defaults.BatchSize ? BatchSize : options.BatchSize;
        var optimizer = options.Optimizer == defaults.Optimizer ? Optimizer : options.Optimizer;
        return options with
        {
            Recipe = null,
            Optimizer = optimizer,
            BatchSize = batch,
            LearningRate = options.LearningRate ?? LearningRateFor(batch),
            WarmupEpochs = options.WarmupEpochs ?? WarmupEpochsFor(options.MaxEpoch),
            WeightDecay = Pick(options.WeightDecay, defaults.WeightDecay, WeightDecay),
            Momentum = Pick(options.Momentum, defaults.Momentum, Momentum),
            AdamEpsilon = Pick(options.AdamEpsilon, defaults.AdamEpsilon, AdamEpsilon),
            Schedule = options.Schedule == defaults.Schedule ? Schedule : options.Schedule,
            LabelSmoothing = Pick(options.LabelSmoothing, defaults.LabelSmoothing, LabelSmoothing),
            MixupAlpha = Pick(options.MixupAlpha, defaults.MixupAlpha, MixupAlpha),
            MixupProbability = Pick(options.MixupProbability, defaults.MixupProbability, MixupProbability),
            RandomResizedCrop = options.RandomResizedCrop || RandomResizedCrop,
            HorizontalFlip = options.HorizontalFlip || HorizontalFlip,
        };
    }

    private static double Pick(double value, double defaultValue, double recipeValue) =>
        value.Equals(defaultValue) ? recipeValue : value;
}
