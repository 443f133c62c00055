// Research tool, not an example: do the methods learn? Trains every registered method on real downstream data,
// Fashion-MNIST classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot) from Debian's dataset-fashion-mnist package, on
// top of the embedded backbone (samples/Assets/backbone, pretrained on classes 0-4 only), with the same budget for
// every method and three seeds, and writes a Markdown table of test accuracy (mean ± std), trainable parameters and
// train time per run.
//
//   dotnet run -c Release --project samples/CompareMethods -- [options]   (--help lists them with their defaults)
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

if (SampleCommandLine.Parse(CompareCommandLine.CreateCommand(), args, out int exitCode) is not { } parsed)
{
    return exitCode;
}

string backbonePath = CompareCommandLine.Backbone.ValueIn(parsed);
string dataDirectory = CompareCommandLine.Data.ValueIn(parsed);
int perClass = parsed.GetValue(CompareCommandLine.TrainPerClass);
int testPerClass = parsed.GetValue(CompareCommandLine.TestPerClass);
int validationPerClass = parsed.GetValue(CompareCommandLine.ValidationPerClass);
int epochs = parsed.GetValue(CompareCommandLine.Epochs);
int batchSize = parsed.GetValue(CompareCommandLine.Batch);
int seedCount = parsed.GetValue(CompareCommandLine.Seeds);
int firstSeed = parsed.GetValue(CompareCommandLine.FirstSeed);
int threads = parsed.GetValue(CompareCommandLine.Threads);
var rateOverrides = new Dictionary<string, double>();
foreach (var (rate, ids) in new[]
{
    (parsed.GetValue(CompareCommandLine.PromptRate), CompareCommandLine.PromptMethodIds()),
    (parsed.GetValue(CompareCommandLine.LinearRate), new[] { "linear" }),
    (parsed.GetValue(CompareCommandLine.FullRate), new[] { "full" }),
})
{
    foreach (var id in rate is null ? Enumerable.Empty<string>() : ids)
    {
        rateOverrides[id] = rate!.Value;
    }
}

double? warmup = parsed.GetValue(CompareCommandLine.Warmup);
string precisionName = parsed.GetValue(CompareCommandLine.Precision)!;
var precision = precisionName == "bf16" ? TrainingPrecision.BFloat16 : TrainingPrecision.Float32;
string outputPath = CompareCommandLine.Out.ValueIn(parsed);
// The library's default head initialisation (timm's std 0.02) unless a diagnostic asks for "vpt" (the VPT codebase's
// Kaiming fan-out, std sqrt(2/C), bias -4.6) or "zero".
string headInit = parsed.GetValue(CompareCommandLine.HeadInit)!;
var selected = CompareCommandLine.Methods.ValueIn(parsed);
string commandLine = SampleCommandLine.Describe("dotnet run -c Release --project samples/CompareMethods", args);

int[] classes = { 5, 6, 7, 8, 9 };
var catalog = MethodCatalog.All(rateOverrides, epochs, warmup);
var unknownMethods = selected.Except(catalog.Select(m => m.Key), StringComparer.Ordinal).ToList();
if (unknownMethods.Count > 0)
{
    Console.Error.WriteLine($"--methods: '{string.Join(",", unknownMethods)}' is not a known method; known: " +
                            $"{string.Join(", ", catalog.Select(m => m.Key))}.");
    return SampleCommandLine.UsageError;
}

// --recipe NAME trains with a method's official recipe (docs/training-engine.md) instead of the library's defaults;
// --lr/--linear-lr/--full-lr, --warmup and --batch still override it.
string? recipeName = parsed.GetValue(CompareCommandLine.Recipe);
TrainingRecipe? recipe = recipeName is null ? null : TrainingRecipes.Find(recipeName);
if (recipeName is not null && recipe is null)
{
    Console.Error.WriteLine($"--recipe: '{recipeName}' is not one of {string.Join(", ", TrainingRecipes.Names)}.");
    return SampleCommandLine.UsageError;
}

bool batchGiven = parsed.GetResult(CompareCommandLine.Batch) is { Implicit: false };
int recipeBatchSize = batchGiven ? batchSize : TrainingOptions.Defaults.BatchSize;
var methods = catalog
    .Where(m => selected.Length == 0 ? !m.Diagnostic : selected.Contains(m.Key, StringComparer.Ordinal))
    .Select(m => recipe is null ? m : WithRecipe(m))
    .ToList();

var skipped = new List<MethodSpec>();
if (precision == TrainingPrecision.BFloat16)
{
    // bfloat16 compute keeps float32 master weights for prompts and head only; full fine-tuning trains the backbone.
    skipped = methods.Where(m => m.CreateOptions().Scope.TrainsBackbone).ToList();
    methods = methods.Except(skipped).ToList();
    if (methods.Count == 0)
    {
        Console.Error.WriteLine("--precision bf16 does not apply to full fine-tuning, the only method selected.");
        return SampleCommandLine.UsageError;
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
var progress = TrainingProgressView.ForConsole();
progress.Run(() =>
{
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
            progress.Prefix = Inv($"{method.Display} seed {seed}");
            var result = new ClassifierTrainer(options, progress: progress).Train(model, trainSet);
            var trainTime = clock.Elapsed;
            double accuracy = new ClassifierPredictor(model, "cpu", precision, batchSize: 500).Accuracy(testSet);
            var last = result.History[^1];
            var run = new RunResult(method, seed, trainable, accuracy, trainTime, last.TrainLoss, last.TrainAccuracy);
            runs.Add(run);
            string scoredOn = validationPerClass > 0 ? "validation" : "test";
            progress.Line(Inv($"{method.Display,-22} lr {method.LearningRate:G} warm-up {method.WarmupEpochs} ") +
                          Inv($"seed {seed}: {scoredOn} {accuracy:P2}, train loss {last.TrainLoss:F4}, ") +
                          Inv($"train acc {last.TrainAccuracy:P2}, {trainable:N0} trainable, ") +
                          Inv($"{trainTime.TotalSeconds:F1} s"));
        }
    }
});

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
    BatchSize = recipeBatchSize,
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
        BatchSize = recipeBatchSize,
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
