using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.ML;
using MLNet.PromptTuning;
using MLNet.PromptTuning.Runtime;

// What a user's app does with the package: train one epoch on the repository's embedded backbone and PNG folders,
// save with mlContext.Model.SaveAtomically, then (in a second, fresh process) load with the checked overload, predict
// and compare. Any error ends the process with a non-zero exit code.
//   probe                                  load TorchSharp's native library through the package and run one op
//   train   <assets> <model.zip> <out.tsv> train, evaluate, save, write test accuracy and some predictions
//   predict <assets> <model.zip> <in.tsv>  load in this fresh process, evaluate and predict, compare with train
CultureInfo.CurrentCulture = CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
switch (args.FirstOrDefault())
{
    case "probe" when args.Length == 1:
        Probe();
        return 0;
    case "train" when args.Length == 4:
        Train(args[1], args[2], args[3]);
        return 0;
    case "predict" when args.Length == 4:
        Predict(args[1], args[2], args[3]);
        return 0;
    default:
        Console.Error.WriteLine("usage: probe | train <assets> <model.zip> <predictions.tsv> | " +
                                "predict <assets> <model.zip> <predictions.tsv>");
        return 2;
}

static void Probe()
{
    // This method names no type of the library or TorchSharp: their assemblies (and the library's first-use step,
    // which runs as its assembly loads) come in when the calls below are compiled, inside the timed region.
    var clock = Stopwatch.StartNew();
    var adjusted = FirstUseOfTheLibrary();
    var prepared = clock.Elapsed.TotalMilliseconds;
    var sum = FirstTorchOperation();
    Console.WriteLine($"native fix: {adjusted ?? "not needed"}");
    Console.WriteLine($"library first use {prepared:F0} ms, first torch op done after " +
                      $"{clock.Elapsed.TotalMilliseconds:F0} ms (sum = {sum})");
}

[MethodImpl(MethodImplOptions.NoInlining)]
static string? FirstUseOfTheLibrary()
{
    TorchNativeLibrary.EnsureLoaded(); // already done by the library's own first-use step; returns at once
    return TorchNativeLibrary.AdjustedLibraryPath;
}

[MethodImpl(MethodImplOptions.NoInlining)]
static float FirstTorchOperation()
{
    using var sum = TorchSharp.torch.ones(3).sum();
    return sum.item<float>();
}

static void Train(string assets, string modelPath, string predictionsPath)
{
    var ml = new MLContext(seed: 1);
    var (train, test) = (ImageFiles.Read(assets, "train"), ImageFiles.Read(assets, "test"));
    var trainView = ml.Data.LoadFromEnumerable(train);
    var options = new PromptViTTrainer.Options
    {
        BackbonePath = Directory.GetFiles(Path.Combine(assets, "backbone"), "*.safetensors").Single(),
        Method = "vpt",
        MaxEpoch = 1,
        Seed = 1,
    };
    var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
        .Append(ml.Transforms.LoadRawImageBytes("Image", ImageFiles.Root(assets), nameof(ImageFile.Path)))
        .Append(ml.MulticlassClassification.Trainers.PromptViT(options))
        .Append(ml.Transforms.Conversion.MapKeyToValue(nameof(Prediction.PredictedLabel), "PredictedLabel"));

    var clock = Stopwatch.StartNew();
    var model = pipeline.Fit(trainView);
    var metrics = ml.MulticlassClassification.Evaluate(model.Transform(ml.Data.LoadFromEnumerable(test)));
    Console.WriteLine($"trained 1 epoch on {train.Count} images in {clock.Elapsed.TotalSeconds:F1} s; " +
                      $"test accuracy {metrics.MicroAccuracy:P1} on {test.Count} images " +
                      $"(native fix: {TorchNativeLibrary.AdjustedLibraryPath ?? "not needed"})");

    ml.Model.SaveAtomically(model, trainView.Schema, modelPath);
    using var engine = ml.Model.CreatePredictionEngine<ImageFile, Prediction>(model);
    File.WriteAllLines(predictionsPath, Sample(test).Select(file => Prediction.Format(file, engine.Predict(file)))
        .Prepend(metrics.MicroAccuracy.ToString("R")));
    Console.WriteLine($"saved {modelPath} ({new FileInfo(modelPath).Length / 1024.0:F0} KB)");
}

// Every tenth test image goes through a PredictionEngine (one row at a time); the rest is scored in batches.
static IEnumerable<ImageFile> Sample(List<ImageFile> files) => files.Where((_, i) => i % 10 == 0);

static void Predict(string assets, string modelPath, string predictionsPath)
{
    var ml = new MLContext(seed: 1);
    var loaded = ml.Model.Load(modelPath, out _, verifyIntegrity: true);
    var test = ImageFiles.Read(assets, "test");
    var saved = File.ReadAllLines(predictionsPath);
    var accuracy = ml.MulticlassClassification.Evaluate(loaded.Transform(ml.Data.LoadFromEnumerable(test)))
        .MicroAccuracy;
    if (accuracy.ToString("R") != saved[0])
    {
        throw new InvalidOperationException(
            $"The reloaded model's test accuracy {accuracy:R} differs from the training process's {saved[0]}.");
    }

    using var engine = ml.Model.CreatePredictionEngine<ImageFile, Prediction>(loaded);
    var sample = Sample(test).ToList();
    if (saved.Length - 1 != sample.Count)
    {
        throw new InvalidOperationException(
            $"{predictionsPath} has {saved.Length - 1} predictions, expected {sample.Count}.");
    }

    foreach (var (file, line) in sample.Zip(saved.Skip(1)))
    {
        var prediction = engine.Predict(file);
        if (!Prediction.Matches(line, file, prediction))
        {
            throw new InvalidOperationException($"The reloaded model disagrees on {file.Path}: saved '{line}', " +
                                                $"now '{Prediction.Format(file, prediction)}'.");
        }
    }

    Console.WriteLine($"reloaded in a fresh process: test accuracy {accuracy:P1} and {sample.Count} single " +
                      "predictions match the training process");
}

/// <summary>One image file of the embedded set and its class (the folder name).</summary>
public sealed class ImageFile
{
    public string Path { get; set; } = "";

    public string Label { get; set; } = "";
}

/// <summary>The reloaded pipeline's output for one image.</summary>
public sealed class Prediction
{
    public float[] Score { get; set; } = [];

    public string PredictedLabel { get; set; } = "";

    public static string Format(ImageFile file, Prediction p) =>
        $"{file.Path}\t{p.PredictedLabel}\t{string.Join(' ', p.Score.Select(s => s.ToString("R")))}";

    /// <summary>Same label, scores equal to 1e-5 (two processes; the thread count is the machine's in both).</summary>
    public static bool Matches(string line, ImageFile file, Prediction p)
    {
        var fields = line.Split('\t');
        var scores = fields[2].Split(' ').Select(float.Parse).ToArray();
        return fields[0] == file.Path && fields[1] == p.PredictedLabel && scores.Length == p.Score.Length
            && scores.Zip(p.Score).All(pair => Math.Abs(pair.First - pair.Second) <= 1e-5f);
    }
}

/// <summary>Reads <c>assets/fashion-mnist-unseen/{train,test}/&lt;class&gt;/*.png</c> in a fixed order.</summary>
public static class ImageFiles
{
    public static string Root(string assets) => Path.Combine(assets, "fashion-mnist-unseen");

    public static List<ImageFile> Read(string assets, string split) =>
        Directory.GetDirectories(Path.Combine(Root(assets), split))
            .OrderBy(d => d, StringComparer.Ordinal)
            .SelectMany(d => Directory.GetFiles(d, "*.png").OrderBy(f => f, StringComparer.Ordinal)
                .Select(f => new ImageFile
                {
                    Path = Path.GetRelativePath(Root(assets), f),
                    Label = Path.GetFileName(d),
                }))
            .ToList();
}
