using System.Globalization;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;

namespace MLNet.PromptTuning.Samples.VtabRunner;

/// <summary>Everything one runner invocation needs; parsed from the command line by <see cref="Parse"/>.</summary>
internal sealed record RunnerOptions
{
    /// <summary>VPT's five final-run seeds.</summary>
    public static readonly int[] PaperSeeds = { 42, 44, 82, 100, 800 };

    public const string Usage = """
        VtabRunner: the VTAB-1k / FGVC protocol of the prompt-tuning papers on one backbone and several methods.

          VtabRunner (--vtab <root> | --fgvc <root>) --backbone <file.safetensors|.npz> --out <dir> [options]

        Data
          --vtab <root>            VTAB-1k root (task folders with train800.txt, val200.txt, train800val200.txt,
                                   test.txt)
          --fgvc <root>            FGVC root (dataset folders with train.json, val.json, test.json), or one
                                   dataset folder
          --tasks a,b              only these tasks (folder names; VTAB aliases such as cifar100 or pets accepted)
          --max-train N            use the first N images of every training list (smoke runs); 0 = all (default)
          --max-test N             use the first N test images; 0 = all (default)
        Backbone
          --backbone <file>        timm/HF/JAX/MAE/MoCo v3 weights (safetensors or npz)
          --variant tiny|small|base|large   architecture (default: the vit_config stored in the file's metadata)
          --patch 16 --image-size 224       with --variant
          --normalization imagenet|inception|checkpoint   default imagenet (what VPT feeds every backbone)
        Methods and protocol
          --methods linear,vpt,tcpa,full    ids with options: vpt:PromptLength=50:Dropout=0.1, full:lr=0.0005/0.001:wd=0
          --lr 1,5,25              learning-rate grid (default 1,5,25: base rates, see --lr-scaling)
          --wd 0,0.001             weight-decay grid (default 0,0.001)
          --lr-scaling batch256|none        batch256 (default) uses lr × batch / 256, as VPT's tune scripts
          --seeds 42,44,82,100,800 final-run seeds (default VPT's five); the search uses the first
          --epochs 100 --warmup 10 --batch 64 --optimizer sgd|adamw --schedule cosine-per-epoch|cosine|constant
          --head-init vpt|small    head initialisation: VPT's Kaiming fan-out (default, for SGD) or timm's std 0.02
          --recipe vpt|tcpa|cvpt|gapt|lspt|sep   a method's official recipe (docs/training-engine.md): the defaults
                                   of the options above, plus its label smoothing, mixup and augmentation
        Execution
          --device auto|cpu|cuda|cuda:N     default auto (CUDA when the CUDA backend is built in and a GPU is visible)
          --threads N              libtorch CPU threads (default: libtorch's choice)
          --precision fp32|bf16    default fp32 (bf16: frozen backbone computes in bfloat16)
          --eval-batch 256         images per scoring batch
          --out <dir>              journal.jsonl, results.md, results.csv; a finished unit is never rerun
          --restart                discard the journal in --out and start over
          --unit-checkpoints       also checkpoint every epoch, so an interrupted unit resumes mid-way (costly for
                                   full fine-tuning: the whole backbone and its optimizer state are written each epoch)
        """;

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

    public static RunnerOptions Parse(IEnumerable<string> args, PromptMethodRegistry registry)
    {
        var a = new CommandLineArgs(args);
        string? vtab = a.OptionalString("vtab"), fgvc = a.OptionalString("fgvc");
        if ((vtab is null) == (fgvc is null))
        {
            throw new ArgumentException("Give exactly one of --vtab <root> or --fgvc <root>.");
        }

        var backbone = a.OptionalString("backbone") ?? throw new ArgumentException("--backbone <file> is required.");
        var output = a.OptionalString("out") ?? throw new ArgumentException("--out <dir> is required.");
        var methods = a.List("methods", new[] { "linear", "vpt", "tcpa", "full:lr=0.0005/0.001/0.005:wd=0/0.0001" })
            .Select(m => MethodSpec.Parse(m, registry)).ToArray();
        if (methods.Select(m => m.Label).Distinct(StringComparer.Ordinal).Count() != methods.Length)
        {
            throw new ArgumentException("--methods lists a method twice.");
        }

        var normalization = a.String("normalization", "imagenet").ToLowerInvariant();
        if (normalization is not ("imagenet" or "inception" or "checkpoint"))
        {
            throw new ArgumentException(
                $"--normalization '{normalization}' is not one of imagenet, inception, checkpoint.");
        }

        var recipe = a.OptionalString("recipe") is { } recipeName ? TrainingRecipes.Get(recipeName) : null;
        var scaling = a.String("lr-scaling", recipe is null || recipe.LearningRateReferenceBatchSize == 256
            ? "batch256" : "none").ToLowerInvariant();
        if (scaling is not ("batch256" or "none"))
        {
            throw new ArgumentException($"--lr-scaling '{scaling}' is not one of batch256, none.");
        }

        var options = new RunnerOptions
        {
            Benchmark = vtab is not null ? "vtab" : "fgvc",
            Root = vtab ?? fgvc!,
            Tasks = a.List("tasks", Array.Empty<string>()),
            BackbonePath = backbone,
            Variant = a.OptionalString("variant"),
            PatchSize = a.Int("patch", 16),
            ImageSize = a.Int("image-size", 224),
            Normalization = normalization,
            Methods = methods,
            Recipe = recipe,
            LearningRates = a.Doubles("lr", recipe is null ? new[] { 1.0, 5.0, 25.0 } : new[] { recipe.LearningRate }),
            WeightDecays = a.Doubles("wd", recipe is null ? new[] { 0.0, 0.001 } : new[] { recipe.WeightDecay }),
            ScaleLearningRateByBatch = scaling == "batch256",
            Seeds = a.Ints("seeds", PaperSeeds),
            Epochs = a.Int("epochs", 100),
            WarmupEpochs = a.Double("warmup", recipe?.WarmupEpochsFor(a.Int("epochs", 100)) ?? 10),
            BatchSize = a.Int("batch", recipe?.BatchSize ?? 64),
            Optimizer = a.String("optimizer", recipe?.Optimizer == OptimizerKind.AdamW ? "adamw" : "sgd")
                .ToLowerInvariant() switch
            {
                "sgd" => OptimizerKind.Sgd,
                "adamw" => OptimizerKind.AdamW,
                var o => throw new ArgumentException($"--optimizer '{o}' is not one of sgd, adamw."),
            },
            HeadInitialization = a.String("head-init", recipe is null
                    || recipe.HeadInitialization == HeadInitialization.VptKaimingFanOut ? "vpt" : "small")
                .ToLowerInvariant() switch
            {
                "vpt" => HeadInitialization.VptKaimingFanOut,
                "small" => HeadInitialization.SmallTruncatedNormal,
                var h => throw new ArgumentException($"--head-init '{h}' is not one of vpt, small."),
            },
            Schedule = a.String("schedule", recipe?.Schedule switch
                {
                    LearningRateSchedule.Cosine => "cosine",
                    LearningRateSchedule.Constant => "constant",
                    _ => "cosine-per-epoch",
                }).ToLowerInvariant() switch
            {
                "cosine-per-epoch" => LearningRateSchedule.CosinePerEpoch,
                "cosine" => LearningRateSchedule.Cosine,
                "constant" => LearningRateSchedule.Constant,
                var s => throw new ArgumentException(
                    $"--schedule '{s}' is not one of cosine-per-epoch, cosine, constant."),
            },
            Device = a.String("device", "auto"),
            Threads = a.OptionalString("threads") is { } t ? int.Parse(t, CultureInfo.InvariantCulture) : null,
            Precision = a.String("precision", "fp32").ToLowerInvariant() switch
            {
                "fp32" => TrainingPrecision.Float32,
                "bf16" => TrainingPrecision.BFloat16,
                var p => throw new ArgumentException($"--precision '{p}' is not one of fp32, bf16."),
            },
            EvaluationBatchSize = a.Int("eval-batch", 256),
            MaxTrain = a.Int("max-train", 0),
            MaxTest = a.Int("max-test", 0),
            OutputDirectory = output,
            Restart = a.Flag("restart"),
            UnitCheckpoints = a.Flag("unit-checkpoints"),
        };
        a.RejectUnknown();
        if (options.Seeds.Count == 0 || options.LearningRates.Count == 0 || options.WeightDecays.Count == 0)
        {
            throw new ArgumentException("--seeds, --lr and --wd need at least one value each.");
        }

        return options;
    }
}
