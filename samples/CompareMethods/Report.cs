using System.Globalization;
using System.Text;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Training;

namespace MLNet.PromptTuning.Samples.CompareMethods;

/// <summary>One training run.</summary>
internal sealed record RunResult(
    MethodSpec Method, int Seed, long TrainableParameters, double TestAccuracy, TimeSpan TrainTime,
    double FinalTrainLoss,
    double FinalTrainAccuracy);

/// <summary>What the report states about the setup.</summary>
internal sealed record ReportContext(
    VitConfig Backbone, string BackbonePath, int TrainImages, int PerClass, int TestImages, int Epochs, int BatchSize,
    int FirstSeed, int Seeds, int Threads, string Machine, string CommandLine, TimeSpan Wall, string LoadBefore,
    string LoadAfter,
    string HeadInit, bool Validation, string Precision, IReadOnlyList<MethodSpec> Skipped,
    TrainingRecipe? Recipe);

/// <summary>Renders the Markdown results.</summary>
internal static class Report
{
    private static int RecipeBatch(ReportContext c, TrainingRecipe r) =>
        c.CommandLine.Contains("--batch", StringComparison.Ordinal) ? c.BatchSize : r.BatchSize;

    public static string Render(IReadOnlyList<RunResult> runs, IReadOnlyList<MethodSpec> methods, ReportContext c)
    {
        var b = new StringBuilder();
        var linearRuns = runs.Where(r => r.Method.Key == "linear").ToList();
        double? linear = linearRuns.Count > 0 ? linearRuns.Average(r => r.TestAccuracy) : null;
        string scored = c.Validation ? "validation" : "test";
        b.AppendLine(
            Inv($"Downstream: Fashion-MNIST classes 5–9, {c.TrainImages} training images ({c.PerClass} per class), ") +
            Inv($"{c.TestImages} {scored} images") +
                     (c.Validation ? " (train-split images after the training ones); " : "; "));
        string compute = c.Precision == "bf16" ? "frozen backbone in bfloat16 (prompts and head float32)" : "float32";
        if (c.Recipe is { } r)
        {
            b.AppendLine(Inv($"backbone `{c.Backbone.Name}` (pretrained on classes 0–4 only). {c.Epochs} epochs, ") +
                Inv($"**recipe `{r.Name}`** ({r.Source}): {r.Optimizer}, batch {RecipeBatch(c, r)}, ") +
                Inv($"weight decay {r.WeightDecay:G}, linear warm-up (epochs per row) then {r.Schedule}, ") +
                Inv($"label smoothing {r.LabelSmoothing:G}, mixup α {r.MixupAlpha:G} on {r.MixupProbability:P0}, ") +
                Inv($"random resized crop {r.RandomResizedCrop}, flip {r.HorizontalFlip}, ") +
                Inv($"{compute} on CPU with {c.Threads} threads; "));
        }
        else
        {
            b.AppendLine(Inv($"backbone `{c.Backbone.Name}` (pretrained on classes 0–4 only). {c.Epochs} epochs, ") +
                Inv($"recipe: none (the library's defaults), batch {c.BatchSize}, AdamW, "));
            b.AppendLine(
                Inv($"weight decay 0.01, linear warm-up (epochs per row) then cosine per step, no augmentation, ") +
                         Inv($"{compute} on CPU with {c.Threads} threads; "));
        }
        string seeds = Inv($"{c.FirstSeed}–{c.FirstSeed + c.Seeds - 1}");
        b.AppendLine(Inv($"last-epoch weights scored on the {scored} set; seeds {seeds}") +
                     (c.HeadInit switch
                     {
                         "zero" => "; **diagnostic: head initialised to zeros** instead of the library's " +
                             "initialisation.",
                         "vpt" => "; **diagnostic: the VPT codebase's head initialisation** (Kaiming fan-out, bias " +
                             "−4.6).",
                         _ => ".",
                     }));
        b.AppendLine();
        b.AppendLine(Inv($"| method | trainable params | lr | warm-up | {scored} accuracy (mean ± std) | per seed | ") +
                     "vs linear probe | train time per run (median) | final train loss / acc. |");
        b.AppendLine("|---|---:|---:|---:|---:|---|---:|---:|---:|");
        foreach (var m in methods)
        {
            var rs = runs.Where(r => r.Method.Key == m.Key).OrderBy(r => r.Seed).ToList();
            if (rs.Count == 0)
            {
                continue;
            }

            var accuracies = rs.Select(r => r.TestAccuracy * 100).ToArray();
            double mean = accuracies.Average();
            double std = accuracies.Length > 1
                ? Math.Sqrt(accuracies.Sum(x => (x - mean) * (x - mean)) / (accuracies.Length - 1))
                : 0;
            string delta = linear is { } lin ? Inv($"{mean - lin * 100:+0.00;-0.00;0.00} pt") : "n/a";
            b.AppendLine(
                Inv($"| {m.Display} | {rs[0].TrainableParameters:N0} | {m.LearningRate:G} | {m.WarmupEpochs} | ") +
                         Inv($"{mean:F2} ± {std:F2} % | ") +
                         string.Join(", ", accuracies.Select(x => x.ToString("F2", CultureInfo.InvariantCulture))) +
                         Inv($" | {delta} | {Median(rs.Select(r => r.TrainTime.TotalSeconds)):F1} s | ") +
                         Inv($"{rs.Average(r => r.FinalTrainLoss):F3} / ") +
                         Inv($"{rs.Average(r => r.FinalTrainAccuracy) * 100:F1} % |"));
        }

        foreach (var m in c.Skipped)
        {
            b.AppendLine($"| {m.Display} | | | | not run: bfloat16 compute does not train the backbone | | | | |");
        }

        b.AppendLine();
        b.AppendLine("Method settings:");
        b.AppendLine();
        foreach (var m in methods)
        {
            b.AppendLine($"- {m.Display}: {m.Settings}.");
        }

        b.AppendLine();
        b.AppendLine(Inv($"Std is the sample standard deviation over {c.Seeds} seeds. Train time is the median over ") +
            "seeds of the wall time of ");
        b.AppendLine("`ClassifierTrainer.Train` alone (scoring excluded; the median discounts a run slowed by other " +
            "jobs " +
            "on the shared");
        b.AppendLine("machine); the final train loss and accuracy are the last epoch's, measured on the training " +
            "batches while");
        b.AppendLine("the weights changed (with prompt dropout where the method has it).");
        b.AppendLine();
        b.AppendLine($"Machine: {c.Machine}. Load average before / after: `{c.LoadBefore}` / `{c.LoadAfter}`.");
        b.AppendLine(Inv($"Whole run: {c.Wall:h\\:mm\\:ss}."));
        b.AppendLine();
        b.AppendLine("```bash");
        b.AppendLine(c.CommandLine);
        b.AppendLine("```");
        return b.ToString();
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1
            ? sorted[sorted.Length / 2]
            : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string Inv(FormattableString text) => FormattableString.Invariant(text);
}
