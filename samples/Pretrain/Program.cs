// Research tool, not an example. Pretrains the library's embedded backbone: a small ViT trained from random
// initialisation (full fine-tuning of every weight) on Fashion-MNIST classes 0-4 (T-shirt/top, Trouser, Pullover,
// Dress, Coat) from Debian's dataset-fashion-mnist package. Saves the backbone without its head as safetensors, with
// the VitConfig (including preprocessing) in the file's metadata, and writes MODEL_CARD.md next to it.
//
//   dotnet run -c Release --project samples/Pretrain -- [--epochs 20] [--seed 1] [--threads 2] [--out DIR]
//   (--help lists every option with its default)
//
// The second mode writes the downstream image set (classes 5-9, which the backbone never saw) as PNG class folders:
//
//   dotnet run -c Release --project samples/Pretrain -- export-unseen [--train-per-class 120] [--test-per-class 100]
using MLNet.PromptTuning.Samples;
using MLNet.PromptTuning.Samples.Pretrain;

if (SampleCommandLine.Parse(PretrainCommandLine.CreateCommand(), args, out int exitCode) is not { } parsed)
{
    return exitCode;
}

if (parsed.CommandResult.Command == PretrainCommandLine.ExportUnseen)
{
    UnseenExport.Run(
        PretrainCommandLine.ExportData.ValueIn(parsed),
        PretrainCommandLine.ExportOut.ValueIn(parsed),
        parsed.GetValue(PretrainCommandLine.TrainPerClass),
        parsed.GetValue(PretrainCommandLine.TestPerClass));
    return 0;
}

var settings = new PretrainSettings
{
    EmbedDim = parsed.GetValue(PretrainCommandLine.Dim),
    Depth = parsed.GetValue(PretrainCommandLine.Depth),
    NumHeads = parsed.GetValue(PretrainCommandLine.Heads),
    PatchSize = parsed.GetValue(PretrainCommandLine.Patch),
    Epochs = parsed.GetValue(PretrainCommandLine.Epochs),
    BatchSize = parsed.GetValue(PretrainCommandLine.Batch),
    LearningRate = parsed.GetValue(PretrainCommandLine.LearningRate),
    WeightDecay = parsed.GetValue(PretrainCommandLine.WeightDecay),
    WarmupEpochs = parsed.GetValue(PretrainCommandLine.Warmup),
    LabelSmoothing = parsed.GetValue(PretrainCommandLine.LabelSmoothing),
    Seed = parsed.GetValue(PretrainCommandLine.Seed),
    Threads = parsed.GetValue(PretrainCommandLine.Threads),
    ImagesPerClass = parsed.GetValue(PretrainCommandLine.Limit),
    DataDirectory = PretrainCommandLine.Data.ValueIn(parsed),
    OutputDirectory = PretrainCommandLine.Out.ValueIn(parsed),
    CommandLine = SampleCommandLine.Describe("dotnet run -c Release --project samples/Pretrain", args),
};
Pretrainer.Run(settings);
return 0;
