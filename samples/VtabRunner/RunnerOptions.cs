using System.CommandLine;
using System.Globalization;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;

namespace MLNet.PromptTuning.Samples.VtabRunner;

/// <summary>Everything one runner invocation needs; read from the command line (<see cref="RunnerCommandLine"/>)
/// by <see cref="From"/>.</summary>
internal sealed record RunnerOptions
{
    /// <summary>VPT's five final-run seeds.</summary>
    public static readonly int[] PaperSeeds = { 42, 44, 82, 100, 800 };

    public required string Benchmark { get; init; }

    public required string Root { get; init; }

    public IReadOnlyList<string> Tasks { get; init; } = Array.Empty<string>();

    public required string BackbonePath { get; init; }

    public string? Variant { get; init; }

    public int PatchSize { get; init; } = 16;

    public int ImageSize { get; init; } = 224;

    public string Normalization { get; init; } = "imagenet";

    public required IReadOnlyList<MethodSpec> Methods { get; init; }

    /// <summary>The named recipe whose values the other settings default to; null for VPT's protocol.</summary>
    public TrainingRecipe? Recipe { get; init; }

    public IReadOnlyList<double> LearningRates { get; init; } = new[] { 1.0, 5.0, 25.0 };

    public IReadOnlyList<double> WeightDecays { get; init; } = new[] { 0.0, 0.001 };

    public bool ScaleLearningRateByBatch { get; init; } = true;

    public IReadOnlyList<int> Seeds { get; init; } = PaperSeeds;

    public int Epochs { get; init; } = 100;

    public double WarmupEpochs { get; init; } = 10;

    public int BatchSize { get; init; } = 64;

    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;

    /// <summary>The VPT codebase's head by default: the papers' protocol is SGD with large learning rates.</summary>
    public HeadInitialization HeadInitialization { get; init; } = HeadInitialization.VptKaimingFanOut;

    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.CosinePerEpoch;

    public string Device { get; init; } = "auto";

    public int? Threads { get; init; }

    public TrainingPrecision Precision { get; init; } = TrainingPrecision.Float32;

    public int EvaluationBatchSize { get; init; } = 256;

    public int MaxTrain { get; init; }

    public int MaxTest { get; init; }

    public required string OutputDirectory { get; init; }

    public bool Restart { get; init; }

    public bool UnitCheckpoints { get; init; }

    /// <summary>Settings that shape every result; a journal written with other values is refused.</summary>
    public IReadOnlyDictionary<string, string> Fingerprint()
    {
        static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        var file = new FileInfo(BackbonePath);
        var fingerprint = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["benchmark"] = Benchmark,
            ["backbone"] = $"{file.Name}:{(file.Exists ? file.Length : 0)}",
            ["variant"] = Variant is null ? "metadata" : $"{Variant}/{PatchSize}/{ImageSize}",
            ["normalization"] = Normalization,
            ["lr_scaling"] = ScaleLearningRateByBatch ? "batch256" : "none",
            ["epochs"] = Epochs.ToString(CultureInfo.InvariantCulture),
            ["warmup"] = F(WarmupEpochs),
            ["batch"] = BatchSize.ToString(CultureInfo.InvariantCulture),
            ["optimizer"] = Optimizer.ToString(),
            ["head_init"] = HeadInitialization.ToString(),
            ["schedule"] = Schedule.ToString(),
            ["precision"] = Precision.ToString(),
            ["max_train"] = MaxTrain.ToString(CultureInfo.InvariantCulture),
            ["max_test"] = MaxTest.ToString(CultureInfo.InvariantCulture),
            // A different grid could change the chosen point after final runs were recorded with the old one.
            ["lr_grid"] = string.Join("/", LearningRates.Order().Select(F)),
            ["wd_grid"] = string.Join("/", WeightDecays.Order().Select(F)),
        };
        if (Recipe is not null)
        {
            // Only with a recipe, so journals written before recipes existed still match.
            fingerprint["recipe"] = Recipe.Name;
        }

        return fingerprint;
    }

    /// <summary>The learning rate actually used for a grid value.</summary>
    public double EffectiveLearningRate(double gridValue) =>
        ScaleLearningRateByBatch ? gridValue * BatchSize / 256.0 : gridValue;

    /// <summary>Parses <paramref name="args"/>; every mistake is an <see cref="ArgumentException"/> that names the
    /// option and the value.</summary>
    public static RunnerOptions Parse(IEnumerable<string> args, PromptMethodRegistry registry) =>
        From(SampleCommandLine.ParseOrThrow(RunnerCommandLine.CreateCommand(), args.ToList()), registry);

    /// <summary>The options a parsed command line asks for.</summary>
    /// <exception cref="ArgumentException">A method spec is wrong or names a method twice.</exception>
    public static RunnerOptions From(ParseResult parsed, PromptMethodRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        var methods = RunnerCommandLine.Methods.ValueIn(parsed).Select(m => MethodSpec.Parse(m, registry)).ToArray();
        if (methods.Select(m => m.Label).Distinct(StringComparer.Ordinal).Count() != methods.Length)
        {
            throw new ArgumentException("--methods lists a method twice.");
        }

        string? recipeName = parsed.GetValue(RunnerCommandLine.Recipe);
        TrainingRecipe? recipe = recipeName is null ? null : TrainingRecipes.Get(recipeName);

        // With a recipe, an option left out takes the recipe's value; one given on the command line wins.
        T Pick<T>(Option<T> option, Func<TrainingRecipe, T> fromRecipe) =>
            recipe is not null && parsed.GetResult(option) is not { Implicit: false }
                ? fromRecipe(recipe)
                : parsed.GetValue(option)!;
        T[] PickList<T>(DefaultedOption<T[]> option, Func<TrainingRecipe, T[]> fromRecipe) =>
            recipe is not null && parsed.GetResult(option) is not { Implicit: false }
                ? fromRecipe(recipe)
                : option.ValueIn(parsed);

        int epochs = parsed.GetValue(RunnerCommandLine.Epochs);
        string? vtab = parsed.GetValue(RunnerCommandLine.Vtab);
        return new RunnerOptions
        {
            Benchmark = vtab is not null ? "vtab" : "fgvc",
            Root = vtab ?? parsed.GetValue(RunnerCommandLine.Fgvc)!,
            Tasks = RunnerCommandLine.Tasks.ValueIn(parsed),
            BackbonePath = parsed.GetValue(RunnerCommandLine.Backbone)!,
            Variant = parsed.GetValue(RunnerCommandLine.Variant),
            PatchSize = parsed.GetValue(RunnerCommandLine.Patch),
            ImageSize = parsed.GetValue(RunnerCommandLine.ImageSize),
            Normalization = parsed.GetValue(RunnerCommandLine.Normalization)!,
            Methods = methods,
            Recipe = recipe,
            LearningRates = PickList(RunnerCommandLine.LearningRates, r => new[] { r.LearningRate }),
            WeightDecays = PickList(RunnerCommandLine.WeightDecays, r => new[] { r.WeightDecay }),
            ScaleLearningRateByBatch = Pick(RunnerCommandLine.LearningRateScaling,
                r => r.LearningRateReferenceBatchSize == 256 ? "batch256" : "none") == "batch256",
            Seeds = RunnerCommandLine.Seeds.ValueIn(parsed),
            Epochs = epochs,
            WarmupEpochs = Pick(RunnerCommandLine.Warmup, r => r.WarmupEpochsFor(epochs)),
            BatchSize = Pick(RunnerCommandLine.Batch, r => r.BatchSize),
            Optimizer = Pick(RunnerCommandLine.Optimizer, r => r.Optimizer == OptimizerKind.AdamW ? "adamw" : "sgd")
                == "adamw" ? OptimizerKind.AdamW : OptimizerKind.Sgd,
            HeadInitialization = Pick(RunnerCommandLine.HeadInit,
                r => r.HeadInitialization == HeadInitialization.VptKaimingFanOut ? "vpt" : "small") == "small"
                ? HeadInitialization.SmallTruncatedNormal
                : HeadInitialization.VptKaimingFanOut,
            Schedule = Pick(RunnerCommandLine.Schedule, r => r.Schedule switch
                {
                    LearningRateSchedule.Cosine => "cosine",
                    LearningRateSchedule.Constant => "constant",
                    _ => "cosine-per-epoch",
                }) switch
            {
                "cosine" => LearningRateSchedule.Cosine,
                "constant" => LearningRateSchedule.Constant,
                _ => LearningRateSchedule.CosinePerEpoch,
            },
            Device = RunnerCommandLine.Device.ValueIn(parsed),
            Threads = parsed.GetValue(RunnerCommandLine.Threads),
            Precision = parsed.GetValue(RunnerCommandLine.Precision) == "bf16" ? TrainingPrecision.BFloat16
                : TrainingPrecision.Float32,
            EvaluationBatchSize = parsed.GetValue(RunnerCommandLine.EvaluationBatch),
            MaxTrain = parsed.GetValue(RunnerCommandLine.MaxTrain),
            MaxTest = parsed.GetValue(RunnerCommandLine.MaxTest),
            OutputDirectory = parsed.GetValue(RunnerCommandLine.Out)!,
            Restart = parsed.GetValue(RunnerCommandLine.Restart),
            UnitCheckpoints = parsed.GetValue(RunnerCommandLine.UnitCheckpoints),
        };
    }
}
