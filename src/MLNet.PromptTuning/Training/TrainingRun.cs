using System.Globalization;
using MLNet.PromptTuning.Data;
using TorchSharp;
using TorchSharp.Modules;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// The state of one call to <see cref="ClassifierTrainer.Train"/>: the settings as resolved for this model, the
/// components built from them (optimiser, schedule, shuffler, augmentation, validation scorer), and where the loop is
/// (epochs done, global step, history, early stopping). Checkpoints save and restore exactly this.
/// </summary>
internal sealed class TrainingRun : IDisposable
{
    private const long ShuffleSeedSalt = 0x5EED_5117;
    private const long AugmentSeedSalt = 0x0A06_3E47;

    private TrainingRun(TrainingOptions options, ITrainableClassifier model, IImageBatchSource train,
        IImageBatchSource? validation)
    {
        Options = options;
        Model = model;
        Train = train;
        Validation = validation;
        var defaults = model.TrainingDefaults;
        LearningRate = options.LearningRate ?? defaults.LearningRate;
        WarmupEpochs = options.WarmupEpochs ?? Math.Min(defaults.WarmupEpochs, options.MaxEpoch);
        Seed = options.Seed ?? TrainingOptions.Defaults.Seed;
        StepsPerEpoch = (train.Count + options.BatchSize - 1) / options.BatchSize;
        TotalSteps = (long)options.MaxEpoch * StepsPerEpoch;
        EarlyStopping = new EarlyStopping(options.EarlyStoppingPatience, options.EarlyStoppingMinDelta,
            options.MaxEpoch);
    }

    public TrainingOptions Options { get; }

    public ITrainableClassifier Model { get; }

    public IImageBatchSource Train { get; }

    public IImageBatchSource? Validation { get; }

    /// <summary>The peak learning rate in use: <see cref="TrainingOptions.LearningRate"/> or the model's
    /// default.</summary>
    public double LearningRate { get; }

    /// <summary>The warm-up in use: <see cref="TrainingOptions.WarmupEpochs"/> or the model's default.</summary>
    public double WarmupEpochs { get; }

    public int Seed { get; }

    public int StepsPerEpoch { get; }

    public long TotalSteps { get; }

    public int Threads { get; private set; }

    public torch.Device Device { get; private set; } = torch.CPU;

    public IReadOnlyList<ParameterGroup> Groups { get; private set; } = Array.Empty<ParameterGroup>();

    public TrainableParameters Parameters { get; private set; } = null!;

    public EpochShuffler Shuffler { get; private set; } = null!;

    public ImagePreprocessor Preprocessor { get; private set; } = null!;

    public OptimizerHelper Optimizer { get; private set; } = null!;

    public LearningRateScheduler Scheduler { get; private set; } = null!;

    /// <summary>Each training image's frozen features, when the model has them and nothing augments the images
    /// (see <see cref="IFrozenFeatureClassifier"/>); otherwise null.</summary>
    public FrozenFeatureStore? FrozenFeatures { get; private set; }

    /// <summary>Mixes training batches; null when <see cref="TrainingOptions.MixupAlpha"/> is 0.</summary>
    public Mixup? Mixup { get; private set; }

    /// <summary>Scores the validation set after every epoch; null without one.</summary>
    public ClassifierPredictor? Predictor { get; private set; }

    /// <summary>Settings and data shape a checkpoint must match to be resumed (option name → invariant text).</summary>
    public IReadOnlyDictionary<string, string> Fingerprint { get; private set; } = new Dictionary<string, string>();

    public EarlyStopping EarlyStopping { get; }

    public int EpochsCompleted { get; set; }

    public int ResumedFromEpoch { get; set; }

    public long GlobalStep { get; set; }

    public List<EpochSummary> History { get; } = new();

    /// <summary>
    /// Resolves the settings for <paramref name="model"/>, moves it to the device, and builds the run's components in
    /// a fixed order (the global seed is set before anything draws from it, so a seeded run is reproducible).
    /// </summary>
    public static TrainingRun Start(TrainingOptions options, ITrainableClassifier model, IImageBatchSource train,
        IImageBatchSource? validation)
    {
        var run = new TrainingRun(options, model, train, validation);
        try
        {
            run.Build();
            return run;
        }
        catch
        {
            run.Dispose();
            throw;
        }
    }

    private void Build()
    {
        var o = Options;
        // The options were validated; what the model proposed for unset ones is checked here.
        OptionChecks.InRange(nameof(TrainingDefaults), nameof(WarmupEpochs), WarmupEpochs, 0, o.MaxEpoch);
        OptionChecks.InRange(nameof(TrainingDefaults), nameof(LearningRate), LearningRate, 0, 100);
        Threads = Runtime.TorchThreads.Configure(o.NumberOfThreads);
        Device = Runtime.TorchDevices.Resolve(o.Device);
        Model.MoveTo(Device);
        Groups = Model.GetParameterGroups();
        Parameters = TrainableParameters.Of(Model, Groups);

        torch.manual_seed(Seed);
        Shuffler = new EpochShuffler(Seed ^ ShuffleSeedSalt);
        Preprocessor = new ImagePreprocessor(Model.Preprocessing, o.RandomResizedCrop, o.HorizontalFlip,
            Seed ^ AugmentSeedSalt);
        Mixup = o.MixupAlpha > 0 ? new Mixup(o.MixupAlpha, o.MixupProbability, o.LabelSmoothing, Seed) : null;
        Optimizer = OptimizerFactory.Create(o, LearningRate, Groups);
        Scheduler = new LearningRateScheduler(o.Schedule, WarmupEpochs, o.MaxEpoch, StepsPerEpoch);
        Predictor = Validation is null ? null
            : new ClassifierPredictor(Model, Device, o.Precision, o.InferenceBatchSize);
        Fingerprint = CreateFingerprint();
        FrozenFeatures = o.ReuseFrozenFeatures && !o.RandomResizedCrop && !o.HorizontalFlip && Mixup is null
            && Model is IFrozenFeatureClassifier { HasFrozenFeatures: true }
            ? new FrozenFeatureStore(Train.Count) : null;
    }

    /// <summary>The result handed back to the caller.</summary>
    public TrainingResult ToResult(bool restoredBest) => new(History.ToArray(), EarlyStopping.BestEpoch,
        EarlyStopping.BestAccuracy, EarlyStopping.Stopped, restoredBest, ResumedFromEpoch);

    public void Dispose()
    {
        EarlyStopping.Dispose();
        FrozenFeatures?.Dispose();
        Optimizer?.Dispose();
        Preprocessor?.Dispose();
        Shuffler?.Dispose();
    }

    private Dictionary<string, string> CreateFingerprint()
    {
        var o = Options;
        static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
        static string Shape(IImageBatchSource d) => $"{d.Count}x{d.Channels}x{d.Height}x{d.Width}";
        var fingerprint = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [nameof(o.Optimizer)] = o.Optimizer.ToString(),
            [nameof(o.LearningRate)] = F(LearningRate),
            [nameof(o.WeightDecay)] = F(o.WeightDecay),
            [nameof(o.Momentum)] = F(o.Momentum),
            [nameof(o.AdamBeta1)] = F(o.AdamBeta1),
            [nameof(o.AdamBeta2)] = F(o.AdamBeta2),
            [nameof(o.AdamEpsilon)] = F(o.AdamEpsilon),
            [nameof(o.MaxEpoch)] = I(o.MaxEpoch),
            [nameof(o.BatchSize)] = I(o.BatchSize),
            [nameof(o.WarmupEpochs)] = F(WarmupEpochs),
            [nameof(o.Schedule)] = o.Schedule.ToString(),
            [nameof(o.LabelSmoothing)] = F(o.LabelSmoothing),
            [nameof(o.GradientClipNorm)] = F(o.GradientClipNorm),
            [nameof(o.Seed)] = I(Seed),
            [nameof(o.Precision)] = o.Precision.ToString(),
            [nameof(o.EarlyStoppingPatience)] = I(o.EarlyStoppingPatience),
            [nameof(o.EarlyStoppingMinDelta)] = F(o.EarlyStoppingMinDelta),
            [nameof(o.RandomResizedCrop)] = o.RandomResizedCrop.ToString(),
            [nameof(o.HorizontalFlip)] = o.HorizontalFlip.ToString(),
            [nameof(StepsPerEpoch)] = I(StepsPerEpoch),
            ["TrainingData"] = Shape(Train),
            ["ValidationData"] = Validation is null ? "none" : Shape(Validation),
            ["Classes"] = I(Model.NumberOfClasses),
            ["TrainableParameters"] = Parameters.Describe(),
        };
        if (o.MixupAlpha > 0)
        {
            // Only with mixup on, so checkpoints written before mixup existed still match runs without it.
            fingerprint[nameof(o.MixupAlpha)] = F(o.MixupAlpha);
            fingerprint[nameof(o.MixupProbability)] = F(o.MixupProbability);
        }

        return fingerprint;
    }
}
