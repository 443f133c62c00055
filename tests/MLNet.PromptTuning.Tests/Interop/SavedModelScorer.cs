using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace MLNet.PromptTuning.Tests.Interop;

/// <summary>
/// Fresh-process half of the persistence tests. It only uses ML.NET's public API and never names a type of
/// MLNet.PromptTuning, never calls <c>ComponentCatalog.RegisterAssembly</c>, and registers no prompt method: ML.NET
/// must find the library from the loader assembly name recorded in the model, and the library the model's method.
/// It first sets libtorch's thread count to the parent's (the fifth argument), since scores are bit-identical only
/// at one count. Output, one item per line: whether the library was loaded before <c>Model.Load</c>, the scores' bits
/// per row, the predicted label values, PredictionEngine's scores for row 0, and Evaluate's micro accuracy.
/// </summary>
internal static class SavedModelScorer
{
    public const string Command = "score-saved-model";

    public static int Run(string[] args)
    {
        string modelPath = args[0];
        string rowsPath = args[1];
        string outputPath = args[3];
        var lines = new List<string>();
        bool loadedBefore = AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "MLNet.PromptTuning");
        lines.Add($"library-loaded-before-load={loadedBefore}");

        var mlContext = new MLContext(seed: 1);
        ITransformer model = mlContext.Model.Load(modelPath, out DataViewSchema _);
        // Only now: TorchSharp's native library is prepared by the library's first use, as in an application, and a
        // TorchSharp call before it would load the unadjusted native library on systems that need the adjustment.
        torch.set_num_threads(int.Parse(args[4], CultureInfo.InvariantCulture));
        bool loadedAfter = AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "MLNet.PromptTuning");
        lines.Add($"library-loaded-after-load={loadedAfter}");

        IDataView rows = mlContext.Data.LoadFromTextFile<ImageRow>(rowsPath, hasHeader: true, separatorChar: '\t');
        IDataView scored = model.Transform(rows);
        foreach (float[] score in ScoreReading.ReadVectors(scored, "Score"))
        {
            lines.Add("score=" + ScoreReading.Bits(score));
        }

        foreach (string value in scored.GetColumn<string>("PredictedLabelValue"))
        {
            lines.Add("predicted=" + value);
        }

        // OwnsTransformer = false: by default a PredictionEngine disposes its model when it is disposed.
        using (var engine = mlContext.Model.CreatePredictionEngine<ImageRow, ScoredImage>(
            model, new PredictionEngineOptions { OwnsTransformer = false }))
        {
            ImageRow first = mlContext.Data.CreateEnumerable<ImageRow>(rows, reuseRowObject: false).First();
            lines.Add("engine-score=" + ScoreReading.Bits(engine.Predict(first).Score));
        }

        var metrics = mlContext.MulticlassClassification.Evaluate(scored, labelColumnName: "Label");
        lines.Add("micro-accuracy=" + metrics.MicroAccuracy.ToString("R", CultureInfo.InvariantCulture));

        File.WriteAllLines(outputPath, lines);
        return 0;
    }
}

/// <summary>PredictionEngine output of the image tests.</summary>
public sealed class ScoredImage
{
    public float[] Score { get; set; } = Array.Empty<float>();

    public string PredictedLabelValue { get; set; } = string.Empty;
}
