using MLNet.PromptTuning.Training;
using System.CommandLine;
using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Samples.CompareMethods;

/// <summary>
/// CompareMethods' options. Each option is one declaration below (registered in help order by <c>All.Add</c>);
/// the program reads it with <c>parsed.GetValue(...)</c> or <c>ValueIn(parsed)</c>.
/// </summary>
internal static class CompareCommandLine
{
    // Declared first: the field initialisers below run in textual order and register into it.
    private static readonly OptionList All = new();

    public static readonly DefaultedOption<string> Backbone = All.Add(SampleOption.Text("--backbone",
        "backbone weights", () => RepoPaths.BackboneFile(RepoPaths.FindRoot()), "FILE",
        "samples/Assets/backbone/model.safetensors"));

    public static readonly DefaultedOption<string> Data = All.Add(SampleOption.Text("--data",
        "folder of the Fashion-MNIST idx files", () => FashionMnist.DebianDirectory, "DIR"));

    public static readonly Option<int> TrainPerClass = All.Add(SampleOption.Value("--train-per-class",
        "training images per class (the first in file order)", 300, "N", minimum: 1));

    public static readonly Option<int> TestPerClass = All.Add(SampleOption.Value("--test-per-class",
        "t10k test images per class; 0 = all", 0, "N", minimum: 0));

    public static readonly Option<int> ValidationPerClass = All.Add(SampleOption.Value("--validation-per-class",
        "score on the N train-split images per class that follow the training images instead of the test set " +
        "(choose settings this way); 0 = score on the test set", 0, "N", minimum: 0));

    public static readonly Option<int> Epochs = All.Add(SampleOption.Value("--epochs",
        "training epochs of every run", 15, "N", minimum: 1));

    public static readonly Option<int> Batch = All.Add(SampleOption.Value("--batch", "images per step", 32, "N",
        minimum: 1));

    public static readonly Option<int> Seeds = All.Add(SampleOption.Value("--seeds", "seeds per method", 3, "N",
        minimum: 1));

    public static readonly Option<int> FirstSeed = All.Add(SampleOption.Value("--first-seed", "the first seed", 1,
        "N"));

    public static readonly Option<int> Threads = All.Add(SampleOption.Value("--threads", "libtorch CPU threads", 2, "N",
        minimum: 1));

    public static readonly Option<double?> PromptRate = All.Add(SampleOption.Optional<double>("--lr",
        "one peak learning rate for every prompt method", "each method's own (TrainingDefaults)", "X"));

    public static readonly Option<double?> LinearRate = All.Add(SampleOption.Optional<double>("--linear-lr",
        "the linear probe's learning rate", "the method's own (TrainingDefaults)", "X"));

    public static readonly Option<double?> FullRate = All.Add(SampleOption.Optional<double>("--full-lr",
        "full fine-tuning's learning rate", "the method's own (TrainingDefaults)", "X"));

    public static readonly Option<double?> Warmup = All.Add(SampleOption.Optional<double>("--warmup",
        "one warm-up (epochs) for every method", "each method's own (TrainingDefaults)", "N", minimum: 0));

    public static readonly DefaultedOption<string[]> Methods = All.Add(SampleOption.Names("--methods",
        "methods to run, by key: " + string.Join(", ", KnownMethodKeys()) + " (diagnostics run only when named)",
        Array.Empty<string>(), "a,b", "all but the diagnostics"));

    public static readonly Option<string> Precision = All.Add(SampleOption.Choice("--precision",
        "bf16 runs the frozen backbone's forward in bfloat16 (full fine-tuning is then skipped)", "fp32", "fp32",
        "bf16"));

    public static readonly Option<string> HeadInit = All.Add(SampleOption.Choice("--head-init",
        "head initialisation: the library's (timm's std 0.02), the VPT codebase's Kaiming fan-out, or zeros",
        "library", "library", "vpt", "zero"));

    public static readonly Option<string?> Recipe = All.Add(SampleOption.OptionalText("--recipe",
        "train with a method's official recipe (docs/training-engine.md): " + string.Join(", ", TrainingRecipes.Names) +
        "; --lr, --linear-lr, --full-lr, --warmup and --batch still override it", "none: the library's defaults",
        "NAME"));

    public static readonly DefaultedOption<string> Out = All.Add(SampleOption.Text("--out", "the Markdown report",
        () => "compare-methods.md", "FILE"));

    /// <summary>The command with every option above.</summary>
    public static RootCommand CreateCommand() => SampleCommandLine.CreateRoot(
        "CompareMethods: trains every registered method on Fashion-MNIST classes 5-9 on top of the embedded " +
        "backbone, with the same budget and several seeds, and writes a Markdown table.", All);

    /// <summary>The prompt methods --lr applies to: every registered method but the two baselines.</summary>
    public static IEnumerable<string> PromptMethodIds() =>
        PromptMethodRegistry.Default.Ids.Where(id => id is not ("linear" or "full"));

    private static IEnumerable<string> KnownMethodKeys() =>
        MethodCatalog.All(new Dictionary<string, double>(), epochs: 15).Select(m => m.Key);
}
