using System.Globalization;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Samples.VtabRunner;
using MLNet.PromptTuning.Tests;
using MLNet.PromptTuning.Training;
using MLNet.PromptTuning.Benchmarks.Tests.Datasets;
using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Benchmarks.Tests.VtabRunner;

/// <summary>The VTAB-1k / FGVC runner end to end, on tiny generated layouts and a tiny backbone file.</summary>
public sealed class VtabRunnerTests : IDisposable
{
    private readonly TinyBenchmarkLayout _layout = new();
    private readonly string _backbone;
    private readonly string _out;

    public VtabRunnerTests()
    {
        _backbone = Path.Combine(_layout.Root, "tiny.safetensors");
        using (var backbone = TinyModels.Backbone(depth: 2))
        {
            BackboneCheckpoint.Save(backbone, _backbone);
        }

        _out = Path.Combine(_layout.Root, "run");
    }

    public void Dispose() => _layout.Dispose();

    [Fact]
    public void Vtab_protocol_searches_trains_final_seeds_and_writes_tables_then_resumes_without_rerunning()
    {
        var vtab = Path.Combine(_layout.Root, "vtab-1k");
        _layout.AddVtabTask("dtd", classes: 3, trainPerClass: 4, valPerClass: 2, testPerClass: 3, root: vtab);
        _layout.AddVtabTask("eurosat", classes: 3, trainPerClass: 4, valPerClass: 2, testPerClass: 3, root: vtab);
        string[] args =
        {
            "--vtab", vtab, "--backbone", _backbone, "--out", _out, "--methods", "linear,vpt:PromptLength=2",
            "--lr", "0.01,0.001", "--wd", "0", "--lr-scaling", "none", "--seeds", "1,2", "--epochs", "2", "--warmup",
                "0",
            "--batch", "8", "--optimizer", "adamw", "--schedule", "cosine", "--device", "cpu", "--eval-batch", "16",
        };

        var log = Run(args);

        var journal = JournalLines();
        Assert.Equal(1 + 2 * 2 * (2 + 2), journal.Length); // header + tasks × methods × (grid + seeds)
        Assert.Equal(8, journal.Count(l => l.Contains("\"kind\":\"search\"", StringComparison.Ordinal)));
        Assert.Contains("test top-1", log);

        var csv = File.ReadAllLines(Path.Combine(_out, ResultsReport.CsvFile));
        Assert.Equal(
            "benchmark,group,task,method,lr,wd,lr_effective,seeds_done,seeds_planned,mean_top1,std_top1," +
            "per_seed_top1,search_val_top1", csv[0]);
        Assert.Equal(5, csv.Length);
        var rows = csv.Skip(1).Select(l => l.Split(',')).ToArray();
        Assert.Equal(new[] { "dtd", "dtd", "eurosat", "eurosat" }, rows.Select(r => r[2]));
        Assert.Equal(new[] { "Natural", "Natural", "Specialized", "Specialized" }, rows.Select(r => r[1]));
        Assert.All(rows, r =>
        {
            Assert.Contains(r[4], new[] { "0.01", "0.001" });
            Assert.Equal("2", r[7]);
            var mean = double.Parse(r[9], CultureInfo.InvariantCulture);
            Assert.InRange(mean, 0, 100);
            Assert.Matches(@"^1:\d+\.\d\d;2:\d+\.\d\d$", r[11]);
            Assert.Matches(@"^lr=0\.001/wd=0=\d+\.\d\d;lr=0\.01/wd=0=\d+\.\d\d$", r[12]);
        });

        var markdown = File.ReadAllText(Path.Combine(_out, ResultsReport.MarkdownFile));
        Assert.Contains("| group | task | linear | vpt:PromptLength=2 |", markdown);
        var dtdMean = double.Parse(rows[0][9], CultureInfo.InvariantCulture);
        Assert.Contains($"| Natural | DTD | {dtdMean.ToString("F1", CultureInfo.InvariantCulture)} ± ", markdown);
        Assert.Contains("| Specialized | EuroSAT | ", markdown);
        Assert.Contains("| **Natural mean** | (1 tasks) |", markdown);
        Assert.Contains("| **Specialized mean** | (1 tasks) |", markdown);
        Assert.Contains("| **Mean of group means** |", markdown);
        Assert.Contains("| **Mean over tasks** | (2 tasks) |", markdown);

        // A second run finds every unit in the journal and trains nothing.
        var again = Run(args);
        Assert.Contains("16 already in", again);
        Assert.DoesNotContain("top-1", again);
        Assert.Equal(journal, JournalLines());

        // An interrupted run (the last unit never recorded) redoes exactly that unit.
        File.WriteAllLines(Path.Combine(_out, ResultsJournal.FileName), journal.Take(journal.Length - 1));
        var resumed = Run(args);
        Assert.Equal(1, resumed.Split('\n').Count(l => l.Contains("test top-1", StringComparison.Ordinal)));
        Assert.Equal(journal.Length, JournalLines().Length);

        // Other settings would mix incomparable results into the journal: refused, naming the setting.
        var changed = args.Select(a => a == "2" ? "3" : a).ToArray(); // --epochs 2 → 3
        var e = Assert.Throws<InvalidOperationException>(() => Run(changed));
        Assert.Contains("epochs = 2, but this run has epochs = 3", e.Message);
    }

    [Fact]
    public void Fgvc_protocol_with_a_single_grid_point_skips_the_search()
    {
        var dataset = _layout.AddFgvcDataset("CUB_200_2011", new[] { 3, 5 }, trainPerClass: 4, valPerClass: 1,
            testPerClass: 2);

        Run(new[]
        {
            "--fgvc", dataset, "--backbone", _backbone, "--out", _out, "--methods", "linear", "--lr", "0.01", "--wd",
                "0",
            "--lr-scaling", "none", "--seeds", "7", "--epochs", "1", "--warmup", "0", "--batch", "4", "--optimizer",
                "adamw",
            "--device", "cpu", "--unit-checkpoints",
        });

        var journal = JournalLines();
        Assert.Equal(2, journal.Length);
        Assert.Contains("\"kind\":\"final\"", journal[1]);
        Assert.Contains("\"images\":4", journal[1]);
        var row = File.ReadAllLines(Path.Combine(_out, ResultsReport.CsvFile))[1].Split(',');
        Assert.Equal(new[] { "fgvc", "FGVC", "CUB_200_2011", "linear", "0.01", "0" }, row.Take(6));
        Assert.Contains("| FGVC | CUB_200_2011 |", File.ReadAllText(Path.Combine(_out, ResultsReport.MarkdownFile)));
        // a finished unit's checkpoint is removed
        Assert.Empty(Directory.GetDirectories(Path.Combine(_out, "checkpoints")));

        // Options are checked against the backbone before anything trains.
        var e = Assert.ThrowsAny<ArgumentException>(() => Run(new[]
        {
            "--fgvc", dataset, "--backbone", _backbone, "--out", _out + "2", "--methods", "vpt:PromptLength=0",
            "--lr", "0.01", "--wd", "0", "--seeds", "7", "--device", "cpu",
        }));
        Assert.Contains("PromptLength is 0", e.Message);
    }

    [Fact]
    public void Method_specs_set_options_and_name_what_is_wrong()
    {
        var registry = PromptMethodRegistry.Default;
        var vpt = MethodSpec.Parse("vpt:PromptLength=50:Dropout=0.2:Depth=shallow:lr=1/2.5", registry);
        var options = (VptOptions)vpt.CreateOptions(registry);
        Assert.Equal((50, 0.2, VptDepth.Shallow), (options.PromptLength, options.Dropout!.Value, options.Depth));
        Assert.Equal(new[] { 1.0, 2.5 }, vpt.LearningRates);
        Assert.Null(vpt.WeightDecays);

        Assert.Contains("Unknown method 'nope'",
            Assert.Throws<ArgumentException>(() => MethodSpec.Parse("nope", registry)).Message);
        Assert.Contains("has no settable option 'Prompts'",
            Assert.Throws<ArgumentException>(() => MethodSpec.Parse("vpt:Prompts=3", registry)).Message);
        Assert.Contains("'many' is not a valid Int32",
            Assert.Throws<ArgumentException>(() => MethodSpec.Parse("vpt:PromptLength=many", registry)).Message);
    }

    [Fact]
    public void A_recipe_sets_the_defaults_the_command_line_does_not_and_joins_the_fingerprint()
    {
        var vtab = Path.Combine(_layout.Root, "vtab-1k");
        string[] common = { "--vtab", vtab, "--backbone", _backbone, "--out", _out, "--methods", "tcpa" };
        var tcpa = RunnerOptions.Parse([.. common, "--recipe", "tcpa"], PromptMethodRegistry.Default);
        Assert.Equal((OptimizerKind.AdamW, 128, 20.0, LearningRateSchedule.Cosine, false),
            (tcpa.Optimizer, tcpa.BatchSize, tcpa.WarmupEpochs, tcpa.Schedule, tcpa.ScaleLearningRateByBatch));
        Assert.Equal(new[] { 0.005 }, tcpa.LearningRates);
        Assert.Equal(new[] { 0.1 }, tcpa.WeightDecays);
        Assert.Equal(HeadInitialization.SmallTruncatedNormal, tcpa.HeadInitialization);
        Assert.Equal("tcpa", tcpa.Fingerprint()["recipe"]);

        var explicitBatch = RunnerOptions.Parse([.. common, "--recipe", "vpt", "--batch", "64"],
            PromptMethodRegistry.Default);
        Assert.Equal((OptimizerKind.Sgd, 64, true, HeadInitialization.VptKaimingFanOut),
            (explicitBatch.Optimizer, explicitBatch.BatchSize, explicitBatch.ScaleLearningRateByBatch,
                explicitBatch.HeadInitialization));
        Assert.Equal(0.25, explicitBatch.EffectiveLearningRate(explicitBatch.LearningRates.Single()));

        var none = RunnerOptions.Parse(common, PromptMethodRegistry.Default);
        Assert.Null(none.Recipe);
        Assert.False(none.Fingerprint().ContainsKey("recipe"));  // journals from before recipes still match
        Assert.Contains("no training recipe 'adam'", Assert.ThrowsAny<ArgumentException>(
            () => RunnerOptions.Parse([.. common, "--recipe", "adam"], PromptMethodRegistry.Default)).Message);
    }

    private string Run(string[] args)
    {
        var options = RunnerOptions.Parse(args, PromptMethodRegistry.Default);
        using var output = new StringWriter();
        var threads = torch.get_num_threads();
        try
        {
            // One thread: a tiny model gains nothing from two, and loses much when another process holds a core.
            using var runner = new ProtocolRunner(options with { Threads = 1 }, output, interactive: false);
            Assert.Equal(0, runner.Run());
        }
        finally
        {
            torch.set_num_threads(threads);
        }


        return output.ToString();
    }

    private string[] JournalLines() => File.ReadAllLines(Path.Combine(_out, ResultsJournal.FileName));
}
