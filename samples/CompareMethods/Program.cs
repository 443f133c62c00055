// Research tool, not an example: do the methods learn? Trains every registered method on real downstream data,
// Fashion-MNIST classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot) from Debian's dataset-fashion-mnist package, on
// top of the embedded backbone (samples/Assets/backbone, pretrained on classes 0-4 only), with the same budget for
// every method and three seeds, and writes a Markdown table of test accuracy (mean ± std), trainable parameters and
// train time per run.
//
//   dotnet run -c Release --project samples/CompareMethods -- [--train-per-class 300] [--epochs 15] [--seeds 3]
//       [--first-seed 1] [--lr X] [--linear-lr X] [--full-lr X] [--warmup N] [--methods linear,vpt-deep,...]
//       [--precision fp32|bf16] [--head-init library|vpt|zero] [--validation-per-class N] [--out compare-methods.md]
//       [--recipe vpt|tcpa|cvpt|gapt|lspt|sep]
//
// Each method trains at its own learning rate and warm-up (PromptMethodOptions.TrainingDefaults: chosen on a validation
// split, see docs/benchmarks.md); --lr sets one rate for every prompt method, --linear-lr and --full-lr the baselines'
// rates, and --warmup one warm-up for every method. --precision bf16 runs the frozen backbone's forward in bfloat16
// (full fine-tuning, which trains the backbone, is then skipped).
// --validation-per-class N scores on the N train-split images of each class that follow the training images instead of
// the t10k test images: settings are chosen that way, never on the test set.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Samples;
using MLNet.PromptTuning.Samples.CompareMethods;
using MLNet.PromptTuning.Training;
using TorchSharp;

var a = new SampleArguments(args);
string root = RepoPaths.FindRoot();
string backbonePath = a.String("--backbone", RepoPaths.BackboneFile(root));
string dataDirectory = a.String("--data", FashionMnist.DebianDirectory);
int perClass = a.Int("--train-per-class", 300);
int testPerClass = a.Int("--test-per-class", 0);
int validationPerClass = a.Int("--validation-per-class", 0);
int epochs = a.Int("--epochs", 15);
int batchSize = a.Int("--batch", 32);
int seedCount = a.Int("--seeds", 3);
int firstSeed = a.Int("--first-seed", 1);
int threads = a.Int("--threads", 2);
var rateOverrides = new Dictionary<string, double>();
foreach (var (flag, ids) in new[] { ("--lr", new[] { "vpt", "tcpa", "cvpt", "lspt", "sep" }),
    ("--linear-lr", new[] { "linear" }), ("--full-lr", new[] { "full" }) })
{
    if (a.Flag(flag))
    {
        foreach (var id in ids)
        {
            rateOverrides[id] = a.Double(flag, 0);
        }
    }
}

double? warmup = a.Flag("--warmup") ? a.Double("--warmup", 0) : null;
string precisionName = a.String("--precision", "fp32");
if (precisionName is not ("fp32" or "bf16"))
{
    Console.Error.WriteLine($"--precision '{precisionName}' is not one of fp32, bf16.");
    return 2;
}

var precision = precisionName == "bf16" ? TrainingPrecision.BFloat16 : TrainingPrecision.Float32;
string outputPath = a.String("--out", "compare-methods.md");
// The library's default head initialisation (timm's std 0.02) unless a diagnostic asks for "vpt" (the VPT codebase's
// Kaiming fan-out, std sqrt(2/C), bias -4.6) or "zero".
string headInit = a.String("--head-init", "library");
if (headInit is not ("library" or "vpt" or "zero"))
{
    Console.Error.WriteLine($"--head-init '{headInit}' is not one of library, vpt, zero.");
    return 2;
}
// --recipe NAME trains with a method's official recipe (docs/training-engine.md) instead of the library's defaults;
// --lr/--linear-lr/--full-lr, --warmup and --batch still override it.
TrainingRecipe? recipe = a.Flag("--recipe") ? TrainingRecipes.Find(a.String("--recipe", "")) : null;
if (a.Flag("--recipe") && recipe is null)
{
    Console.Error.WriteLine($"--recipe is not one of {string.Join(", ", TrainingRecipes.Names)}.");
    return 2;
}

bool batchGiven = a.Flag("--batch");
var selected = a.String("--methods", "all");
string commandLine = "dotnet run -c Release --project samples/CompareMethods"
    + (args.Length > 0 ? " -- " + string.Join(' ', args) : "");

int[] classes = { 5, 6, 7, 8, 9 };
var catalog = MethodCatalog.All(rateOverrides, epochs, warmup);
var methods = catalog
    .Where(m => selected == "all" ? !m.Diagnostic : selected.Split(',').Contains(m.Key))
    .Select(m => recipe is null ? m : WithRecipe(m))
    .ToList();
if (methods.Count == 0)
{
    Console.Error.WriteLine(
        $"No method matches '{selected}'; known: {string.Join(", ", catalog.Select(m => m.Key))}.");
    return 2;
}

var skipped = new List<MethodSpec>();
if (precision == TrainingPrecision.BFloat16)
{
    // bfloat16 compute keeps float32 master weights for prompts and head only; full fine-tuning trains the backbone.
    skipped = methods.Where(m => m.CreateOptions().Scope.TrainsBackbone).ToList();
    methods = methods.Except(skipped).ToList();
    if (methods.Count == 0)
    {
        Console.Error.WriteLine("--precision bf16 does not apply to full fine-tuning, the only method selected.");
        return 2;
    }
}

var wall = Stopwatch.StartNew();
string loadBefore = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
var (trainPixels, trainLabels) = FashionMnist.Load("train", dataDirectory);
var (testPixels, testLabels) = FashionMnist.Load("t10k", dataDirectory);
var train = FashionMnist.Select(trainPixels, trainLabels, classes, perClass);
var test = validationPerClass > 0
    ? FashionMnist.Select(trainPixels, trainLabels, classes, validationPerClass, skipPerClass: perClass)
    : FashionMnist.Select(testPixels, testLabels, classes, testPerClass);
using var trainSet = ImageTensorDataset.FromPixels(train.Pixels, train.Labels, 1, FashionMnist.Side, FashionMnist.Side);
using var testSet = ImageTensorDataset.FromPixels(test.Pixels, test.Labels, 1, FashionMnist.Side, FashionMnist.Side);
using var backbone = BackboneCheckpoint.LoadBackbone(backbonePath);
Console.WriteLine(Inv($"Backbone {backbone.Config.Name} from {backbonePath}; train {trainSet.Count} images ") +
                  Inv($"({perClass} per class, first in file order), ") +
                  (validationPerClass > 0
                      ? Inv($"validation {testSet.Count} (the next {validationPerClass} train-split images per class).")
                      : Inv($"test {testSet.Count} (t10k images of classes 5-9).")));

// Untimed warm-up (JIT compilation, libtorch's thread pool), so the first timed run is not slower than the rest.
using (var warmupModel = new PromptedVisionTransformer(backbone, methods[0].CreateOptions(), classes.Length))
{
    if (precision == TrainingPrecision.BFloat16)
    {
        warmupModel.SetComputePrecision(torch.ScalarType.BFloat16);
    }

    new ClassifierTrainer(new TrainingOptions
    {
        MaxEpoch = 1, BatchSize = batchSize, NumberOfThreads = threads, Device = "cpu", LogEveryNSteps = 0,
        Precision = precision,
    }).Train(warmupModel, trainSet);
}

var runs = new List<RunResult>();
foreach (var method in methods)
{
    for (int seed = firstSeed; seed < firstSeed + seedCount; seed++)
    {
        torch.manual_seed(seed);
        using var model = new PromptedVisionTransformer(backbone, method.CreateOptions(), classes.Length,
            headInitialization: headInit == "vpt" ? HeadInitialization.VptKaimingFanOut
                : headInit == "library" && recipe?.HeadInitialization is { } recipeHead ? recipeHead
                : HeadInitialization.SmallTruncatedNormal);
        if (headInit == "zero")
        {
            ZeroHead(model);
        }

        if (precision == TrainingPrecision.BFloat16)
        {
            model.SetComputePrecision(torch.ScalarType.BFloat16);
        }
        long trainable = model.CountTrainableParameters();
        var options = recipe is null ? LibraryRecipe(method, seed) : RecipeOptions(method, seed);
        var clock = Stopwatch.StartNew();
        var result = new ClassifierTrainer(options).Train(model, trainSet);
        var trainTime = clock.Elapsed;
        double accuracy = new ClassifierPredictor(model, "cpu", precision, batchSize: 500).Accuracy(testSet);
        var last = result.History[^1];
        var run = new RunResult(method, seed, trainable, accuracy, trainTime, last.TrainLoss, last.TrainAccuracy);
        runs.Add(run);
        string scoredOn = validationPerClass > 0 ? "validation" : "test";
        Console.WriteLine(Inv($"{method.Display,-22} lr {method.LearningRate:G} warm-up {method.WarmupEpochs} ") +
                          Inv($"seed {seed}: {scoredOn} {accuracy:P2}, train loss {last.TrainLoss:F4}, ") +
                          Inv($"train acc {last.TrainAccuracy:P2}, {trainable:N0} trainable, ") +
                          Inv($"{trainTime.TotalSeconds:F1} s"));
    }
}

string loadAfter = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
var report = Report.Render(runs, methods, new ReportContext(
    backbone.Config, backbonePath, trainSet.Count, perClass, testSet.Count, epochs, batchSize, firstSeed, seedCount,
    threads, Machine(), commandLine, wall.Elapsed, loadBefore, loadAfter, headInit, validationPerClass > 0,
    precisionName,
    skipped, recipe));
File.WriteAllText(outputPath, report);
Console.WriteLine();
Console.WriteLine(report);
Console.WriteLine($"Written to {Path.GetFullPath(outputPath)} in {wall.Elapsed:hh\\:mm\\:ss}.");
return 0;

// The library's defaults: AdamW, weight decay 0.01, the method's own rate and warm-up, cosine per step.
TrainingOptions LibraryRecipe(MethodSpec method, int seed) => new()
{
    Optimizer = OptimizerKind.AdamW,
    LearningRate = method.LearningRate,
    WeightDecay = 0.01,
    MaxEpoch = epochs,
    BatchSize = batchSize,
    WarmupEpochs = method.WarmupEpochs,
    Schedule = LearningRateSchedule.Cosine,
    Seed = seed,
    NumberOfThreads = threads,
    Device = "cpu",
    LogEveryNSteps = 0,
    Precision = precision,
};

// The recipe fills everything the command line did not set.
TrainingOptions RecipeOptions(MethodSpec method, int seed) => new TrainingOptions
{
    Recipe = recipe!.Name,
    LearningRate = method.LearningRate,
    WarmupEpochs = method.WarmupEpochs,
    MaxEpoch = epochs,
    BatchSize = batchGiven ? batchSize : TrainingOptions.Defaults.BatchSize,
    Seed = seed,
    NumberOfThreads = threads,
    Device = "cpu",
    LogEveryNSteps = 0,
    Precision = precision,
}.WithRecipeApplied();

// A method's row under the recipe: its rate and warm-up unless given on the command line.
MethodSpec WithRecipe(MethodSpec m)
{
    var applied = new TrainingOptions
    {
        Recipe = recipe!.Name,
        MaxEpoch = epochs,
        BatchSize = batchGiven ? batchSize : TrainingOptions.Defaults.BatchSize,
        LearningRate = rateOverrides.TryGetValue(m.Key.Split('-')[0], out var rate) ? rate : null,
        WarmupEpochs = warmup,
    }.WithRecipeApplied();
    return m with { LearningRate = applied.LearningRate!.Value, WarmupEpochs = applied.WarmupEpochs!.Value };
}

static void ZeroHead(PromptedVisionTransformer model)
{
    using var noGrad = torch.no_grad();
    foreach (var (name, parameter) in model.named_parameters())
    {
        if (name is "head.weight" or "head.bias")
        {
            parameter.zero_();
        }
    }
}

static string Machine()
{
    string cpu = File.Exists("/proc/cpuinfo")
        ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l =>
            l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU"
        : "unknown CPU";
    return Inv($"{cpu}, {Environment.ProcessorCount} logical cores, {RuntimeInformation.OSDescription}, .NET ") +
        Inv($"{Environment.Version}, ") +
           Inv($"TorchSharp {typeof(torch).Assembly.GetName().Version} (CPU libtorch)");
}

static string Inv(FormattableString text) => FormattableString.Invariant(text);
