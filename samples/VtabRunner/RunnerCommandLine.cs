using MLNet.PromptTuning.Training;
using System.CommandLine;

namespace MLNet.PromptTuning.Samples.VtabRunner;

/// <summary>
/// The runner's options. Each option is one declaration below (registered in help order by <c>All.Add</c>);
/// <see cref="RunnerOptions.From"/> reads them.
/// </summary>
internal static class RunnerCommandLine
{
    // Declared first: the field initialisers below run in textual order and register into it.
    private static readonly OptionList All = new();

    // Data
    public static readonly Option<string?> Vtab = All.Add(SampleOption.OptionalText("--vtab",
        "VTAB-1k root (task folders with train800.txt, val200.txt, train800val200.txt, test.txt); give this or " +
        "--fgvc", "none", "ROOT"));

    public static readonly Option<string?> Fgvc = All.Add(SampleOption.OptionalText("--fgvc",
        "FGVC root (dataset folders with train.json, val.json, test.json), or one dataset folder; give this or " +
        "--vtab", "none", "ROOT"));

    public static readonly DefaultedOption<string[]> Tasks = All.Add(SampleOption.Names("--tasks",
        "only these tasks (folder names; VTAB aliases such as cifar100 or pets accepted)", Array.Empty<string>(),
        "a,b", "every task found"));

    public static readonly Option<int> MaxTrain = All.Add(SampleOption.Value("--max-train",
        "use the first N images of every training list (smoke runs); 0 = all", 0, "N", minimum: 0));

    public static readonly Option<int> MaxTest = All.Add(SampleOption.Value("--max-test",
        "use the first N test images; 0 = all", 0, "N", minimum: 0));

    // Backbone
    public static readonly Option<string?> Backbone = All.Add(SampleOption.OptionalText("--backbone",
        "timm/HF/JAX/MAE/MoCo v3 weights (safetensors or npz)", "", "FILE", required: true));

    public static readonly Option<string?> Variant = All.Add(SampleOption.OptionalText("--variant",
        "architecture: tiny, small, base or large (with --patch and --image-size)",
        "the vit_config stored in the file's metadata", "NAME"));

    public static readonly Option<int> Patch = All.Add(SampleOption.Value("--patch", "patch size, with --variant", 16,
        "N", minimum: 1));

    public static readonly Option<int> ImageSize = All.Add(SampleOption.Value("--image-size",
        "input image size, with --variant", 224, "N", minimum: 1));

    public static readonly Option<string> Normalization = All.Add(SampleOption.Choice("--normalization",
        "input normalisation (imagenet is what VPT feeds every backbone)", "imagenet", "imagenet", "inception",
        "checkpoint"));

    // Methods and protocol
    public static readonly DefaultedOption<string[]> Methods = All.Add(SampleOption.Names("--methods",
        "method ids with options, for example vpt:PromptLength=50:Dropout=0.1 or full:lr=0.0005/0.001:wd=0",
        new[] { "linear", "vpt", "tcpa", "full:lr=0.0005/0.001/0.005:wd=0/0.0001" }, "a,b"));

    public static readonly DefaultedOption<double[]> LearningRates = All.Add(SampleOption.List("--lr",
        "learning-rate grid (base rates, see --lr-scaling)", new[] { 1.0, 5.0, 25.0 }, "X,Y"));

    public static readonly DefaultedOption<double[]> WeightDecays = All.Add(SampleOption.List("--wd",
        "weight-decay grid", new[] { 0.0, 0.001 }, "X,Y"));

    public static readonly Option<string> LearningRateScaling = All.Add(SampleOption.Choice("--lr-scaling",
        "batch256 uses lr × batch / 256, as VPT's tune scripts", "batch256", "batch256", "none"));

    public static readonly DefaultedOption<int[]> Seeds = All.Add(SampleOption.List("--seeds",
        "final-run seeds (VPT's five by default); the search uses the first", RunnerOptions.PaperSeeds, "A,B"));

    public static readonly Option<int> Epochs = All.Add(SampleOption.Value("--epochs", "training epochs", 100, "N",
        minimum: 1));

    public static readonly Option<double> Warmup = All.Add(SampleOption.Value("--warmup", "warm-up epochs", 10.0, "N",
        minimum: 0));

    public static readonly Option<int> Batch = All.Add(SampleOption.Value("--batch", "images per step", 64, "N",
        minimum: 1));

    public static readonly Option<string> Optimizer = All.Add(SampleOption.Choice("--optimizer", "optimizer", "sgd",
        "sgd", "adamw"));

    public static readonly Option<string> Schedule = All.Add(SampleOption.Choice("--schedule", "learning-rate schedule",
        "cosine-per-epoch", "cosine-per-epoch", "cosine", "constant"));

    public static readonly Option<string> HeadInit = All.Add(SampleOption.Choice("--head-init",
        "head initialisation: VPT's Kaiming fan-out (for SGD) or timm's std 0.02", "vpt", "vpt", "small"));

    public static readonly Option<string?> Recipe = All.Add(SampleOption.OptionalText("--recipe",
        "a method's official recipe (docs/training-engine.md): " + string.Join(", ", TrainingRecipes.Names) +
        "; the default of every protocol option above, plus its label smoothing, mixup and augmentation",
        "none: VPT's protocol", "NAME"));

    // Execution
    public static readonly DefaultedOption<string> Device = All.Add(SampleOption.Text("--device",
        "auto (CUDA when the CUDA backend is built in and a GPU is visible), cpu, cuda or cuda:N", () => "auto",
        "D"));

    public static readonly Option<int?> Threads = All.Add(SampleOption.Optional<int>("--threads",
        "libtorch CPU threads", "libtorch's choice", "N", minimum: 1));

    public static readonly Option<string> Precision = All.Add(SampleOption.Choice("--precision",
        "bf16: the frozen backbone computes in bfloat16", "fp32", "fp32", "bf16"));

    public static readonly Option<int> EvaluationBatch = All.Add(SampleOption.Value("--eval-batch",
        "images per scoring batch", 256, "N", minimum: 1));

    public static readonly Option<string?> Out = All.Add(SampleOption.OptionalText("--out",
        "journal.jsonl, results.md, results.csv; a finished unit is never rerun", "", "DIR", required: true));

    public static readonly Option<bool> Restart = All.Add(SampleOption.Flag("--restart",
        "discard the journal in --out and start over"));

    public static readonly Option<bool> UnitCheckpoints = All.Add(SampleOption.Flag("--unit-checkpoints",
        "also checkpoint every epoch, so an interrupted unit resumes mid-way (costly for full fine-tuning: the " +
        "whole backbone and its optimizer state are written each epoch)"));

    /// <summary>The runner's command: every option above, and exactly one of --vtab and --fgvc.</summary>
    public static RootCommand CreateCommand()
    {
        var root = SampleCommandLine.CreateRoot(
            "VtabRunner: the VTAB-1k / FGVC protocol of the prompt-tuning papers on one backbone and several " +
            "methods.", All);
        root.Validators.Add(result =>
        {
            if ((result.GetResult(Vtab) is null) == (result.GetResult(Fgvc) is null))
            {
                result.AddError("Give exactly one of --vtab <root> or --fgvc <root>.");
            }
        });
        return root;
    }
}
