using System.CommandLine;

namespace MLNet.PromptTuning.Samples.Pretrain;

/// <summary>
/// Pretrain's command line: the root command pretrains the embedded backbone; <c>export-unseen</c> writes the
/// downstream PNG set.
/// </summary>
internal static class PretrainCommandLine
{
    public static readonly DefaultedOption<string> Data = SampleOption.Text("--data",
        "folder of the Fashion-MNIST idx files", () => FashionMnist.DebianDirectory, "DIR");

    public static readonly Option<int> Dim = SampleOption.Value("--dim", "embedding width", 128, "N", minimum: 1);

    public static readonly Option<int> Depth = SampleOption.Value("--depth", "transformer blocks", 6, "N",
        minimum: 1);

    public static readonly Option<int> Heads = SampleOption.Value("--heads", "attention heads", 4, "N", minimum: 1);

    public static readonly Option<int> Patch = SampleOption.Value("--patch", "patch size (pixels)", 7, "N",
        minimum: 1);

    public static readonly Option<int> Epochs = SampleOption.Value("--epochs", "training epochs", 20, "N",
        minimum: 1);

    public static readonly Option<int> Batch = SampleOption.Value("--batch", "images per step", 128, "N",
        minimum: 1);

    public static readonly Option<double> LearningRate = SampleOption.Value("--lr", "peak learning rate (AdamW)",
        1e-3, "X", minimum: 0);

    public static readonly Option<double> WeightDecay = SampleOption.Value("--wd", "weight decay", 0.05, "X",
        minimum: 0);

    public static readonly Option<double> Warmup = SampleOption.Value("--warmup", "warm-up epochs", 1.0, "N",
        minimum: 0);

    public static readonly Option<double> LabelSmoothing = SampleOption.Value("--label-smoothing",
        "label smoothing", 0.1, "X", minimum: 0);

    public static readonly Option<int> Seed = SampleOption.Value("--seed", "random seed", 1, "N");

    public static readonly Option<int> Threads = SampleOption.Value("--threads", "libtorch CPU threads", 2, "N",
        minimum: 1);

    public static readonly Option<int> Limit = SampleOption.Value("--limit",
        "training images per class (timing trials); 0 = all 6,000", 0, "N", minimum: 0);

    public static readonly DefaultedOption<string> Out = SampleOption.Text("--out",
        "where model.safetensors and MODEL_CARD.md are written", () => RepoPaths.BackboneDirectory(
            RepoPaths.FindRoot()), "DIR", "samples/Assets/backbone");

    public static readonly DefaultedOption<string> ExportData = SampleOption.Text("--data",
        "folder of the Fashion-MNIST idx files", () => FashionMnist.DebianDirectory, "DIR");

    public static readonly DefaultedOption<string> ExportOut = SampleOption.Text("--out",
        "where the class folders are written",
        () => Path.Combine(RepoPaths.FindRoot(), "samples", "Assets", "fashion-mnist-unseen"), "DIR",
        "samples/Assets/fashion-mnist-unseen");

    public static readonly Option<int> TrainPerClass = SampleOption.Value("--train-per-class",
        "training images per class", 120, "N", minimum: 0);

    public static readonly Option<int> TestPerClass = SampleOption.Value("--test-per-class",
        "test images per class", 100, "N", minimum: 0);

    /// <summary>The export-unseen subcommand.</summary>
    public static readonly Command ExportUnseen = new("export-unseen",
        "Write the downstream image set (classes 5-9, which the backbone never saw) as PNG class folders.")
    {
        ExportData, ExportOut, TrainPerClass, TestPerClass,
    };

    /// <summary>The whole command line: pretraining options and the export-unseen subcommand.</summary>
    public static RootCommand CreateCommand()
    {
        var root = SampleCommandLine.CreateRoot(
            "Pretrain: trains the embedded backbone from scratch on Fashion-MNIST classes 0-4 and saves it with its " +
            "model card.",
            new Option[]
            {
                Data, Dim, Depth, Heads, Patch, Epochs, Batch, LearningRate, WeightDecay, Warmup, LabelSmoothing,
                Seed, Threads, Limit, Out,
            });
        root.Subcommands.Add(ExportUnseen);
        return root;
    }
}
