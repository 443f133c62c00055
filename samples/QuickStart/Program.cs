using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning;
using MLNet.PromptTuning.Samples;
using MLNet.PromptTuning.Samples.QuickStart;

// QuickStart: prompt-tune the embedded backbone on the embedded images of classes it never saw, compare with a
// linear probe, save, reload and predict. Every setting can be changed on the command line (see --help).
if (SampleCommandLine.Parse(QuickStartSettings.CreateCommand(), args, out int exitCode) is not { } parsed)
{
    return exitCode;
}

var settings = QuickStartSettings.From(parsed);
var progress = TrainingProgressView.ForConsole();

var clock = Stopwatch.StartNew();
var ml = new MLContext(seed: 1);
var (trainFiles, testFiles) = ImageFolder.Read(settings.DataFolder);
Console.WriteLine($"Data:     {settings.DataFolder}");
Console.WriteLine($"          {trainFiles.Count} training and {testFiles.Count} test images, classes: " +
                  string.Join(", ", trainFiles.Select(f => f.Label).Distinct()));
Console.WriteLine($"Backbone: {settings.BackbonePath}");

IDataView train = ml.Data.LoadFromEnumerable(trainFiles);
IDataView test = ml.Data.LoadFromEnumerable(testFiles);

var (promptModel, promptMetrics) = TrainAndEvaluate(settings.Method);
var (probeModel, probeMetrics) = settings.Method == "linear" ? (promptModel, promptMetrics)
    : TrainAndEvaluate("linear");

Console.WriteLine();
Console.WriteLine($"Test results on {testFiles.Count} images of unseen classes:");
Console.WriteLine($"  {"method",-8} {"micro acc",10} {"macro acc",10} {"log-loss",9}");
PrintRow(settings.Method, promptMetrics);
if (!ReferenceEquals(probeModel, promptModel))
{
    PrintRow("linear", probeMetrics);
}

Console.WriteLine();
Console.WriteLine($"Confusion matrix ({settings.Method}):");
Console.WriteLine(promptMetrics.ConfusionMatrix.GetFormattedConfusionTable());

if (settings.OnnxPath is not null)
{
    OnnxCheck.Run(ml, promptModel, testFiles, settings.DataFolder, settings.OnnxPath,
        promptMetrics.MicroAccuracy);
}

Directory.CreateDirectory(settings.OutputFolder);
string modelPath = Path.GetFullPath(Path.Combine(settings.OutputFolder, $"promptvit-{settings.Method}.zip"));
ml.Model.SaveAtomically(promptModel, train.Schema, modelPath);
Console.WriteLine($"Model saved to {modelPath} ({new FileInfo(modelPath).Length / 1024.0:N0} KB).");

var reloadContext = new MLContext(seed: 1);
ITransformer reloaded = reloadContext.Model.Load(modelPath, out _, verifyIntegrity: true);
using (var engine = reloadContext.Model.CreatePredictionEngine<ImageFile, Prediction>(reloaded))
{
    Console.WriteLine("Predictions of the reloaded model:");
    foreach (var file in testFiles.Where((_, i) => i % Math.Max(1, testFiles.Count / 5) == 0).Take(5))
    {
        var prediction = engine.Predict(file);
        Console.WriteLine($"  {file.Path,-48} true: {file.Label,-11} predicted: {prediction.PredictedLabel,-11} " +
                          $"p = {prediction.Score.Max():P1}");
    }
}

(promptModel as IDisposable)?.Dispose();
if (!ReferenceEquals(probeModel, promptModel))
{
    (probeModel as IDisposable)?.Dispose();
}

Console.WriteLine($"Done in {clock.Elapsed.TotalSeconds:N0} s.");
return 0;

(ITransformer Model, MulticlassClassificationMetrics Metrics) TrainAndEvaluate(string method)
{
    Console.WriteLine();
    Console.WriteLine($"Training {method} for {settings.Epochs} epochs on {settings.Device}...");
    var options = new PromptViTTrainer.Options
    {
        BackbonePath = settings.BackbonePath,
        Method = method,
        MaxEpoch = settings.Epochs,
        BatchSize = settings.BatchSize,
        LearningRate = settings.LearningRate,  // null: the method's own rate and warm-up (docs/options.md)
        NumberOfThreads = Environment.ProcessorCount,
        Device = settings.Device,
        Seed = 1,
        Progress = progress,
    };
    var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
        .Append(ml.Transforms.LoadRawImageBytes("Image", settings.DataFolder, nameof(ImageFile.Path)))
        .Append(ml.MulticlassClassification.Trainers.PromptViT(options))
        .Append(ml.Transforms.Conversion.MapKeyToValue(nameof(Prediction.PredictedLabel), "PredictedLabel"));
    var model = progress.Run(() => pipeline.Fit(train));
    var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
    return (model, metrics);
}

static void PrintRow(string method, MulticlassClassificationMetrics metrics) =>
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"  {method,-8} {metrics.MicroAccuracy,10:P1} {metrics.MacroAccuracy,10:P1} {metrics.LogLoss,9:F3}"));

/// <summary>What the prediction engine returns for one image.</summary>
public sealed class Prediction
{
    /// <summary>Class probabilities.</summary>
    public float[] Score { get; set; } = Array.Empty<float>();

    /// <summary>The most probable class name.</summary>
    public string PredictedLabel { get; set; } = string.Empty;
}
