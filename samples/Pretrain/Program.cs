// Research tool, not an example. Pretrains the library's embedded backbone: a small ViT trained from random
// initialisation (full fine-tuning of every weight) on Fashion-MNIST classes 0-4 (T-shirt/top, Trouser, Pullover,
// Dress, Coat) from Debian's dataset-fashion-mnist package. Saves the backbone without its head as safetensors, with
// the VitConfig (including preprocessing) in the file's metadata, and writes MODEL_CARD.md next to it.
//
//   dotnet run -c Release --project samples/Pretrain -- [--epochs 20] [--seed 1] [--threads 2] [--out DIR]
//
// The second mode writes the downstream image set (classes 5-9, which the backbone never saw) as PNG class folders:
//
//   dotnet run -c Release --project samples/Pretrain -- export-unseen [--train-per-class 120] [--test-per-class 100]
using MLNet.PromptTuning.Samples;
using MLNet.PromptTuning.Samples.Pretrain;

var arguments = new SampleArguments(args);
string repoRoot = RepoPaths.FindRoot();
string dataDirectory = arguments.String("--data", FashionMnist.DebianDirectory);
if (arguments.Command == "export-unseen")
{
    UnseenExport.Run(
        dataDirectory,
        arguments.String("--out", Path.Combine(repoRoot, "samples", "Assets", "fashion-mnist-unseen")),
        arguments.Int("--train-per-class", 120),
        arguments.Int("--test-per-class", 100));
    return 0;
}

if (arguments.Command is not null)
{
    Console.Error.WriteLine($"Unknown command '{arguments.Command}'; expected none (pretrain) or 'export-unseen'.");
    return 2;
}

var settings = new PretrainSettings
{
    EmbedDim = arguments.Int("--dim", 128),
    Depth = arguments.Int("--depth", 6),
    NumHeads = arguments.Int("--heads", 4),
    PatchSize = arguments.Int("--patch", 7),
    Epochs = arguments.Int("--epochs", 20),
    BatchSize = arguments.Int("--batch", 128),
    LearningRate = arguments.Double("--lr", 1e-3),
    WeightDecay = arguments.Double("--wd", 0.05),
    WarmupEpochs = arguments.Double("--warmup", 1),
    LabelSmoothing = arguments.Double("--label-smoothing", 0.1),
    Seed = arguments.Int("--seed", 1),
    Threads = arguments.Int("--threads", 2),
    ImagesPerClass = arguments.Int("--limit", 0),
    DataDirectory = dataDirectory,
    OutputDirectory = arguments.String("--out", Path.Combine(repoRoot, "samples", "Assets", "backbone")),
    CommandLine = "dotnet run -c Release --project samples/Pretrain"
        + (args.Length > 0 ? " -- " + string.Join(' ', args) : ""),
};
Pretrainer.Run(settings);
return 0;
