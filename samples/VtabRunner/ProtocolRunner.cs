using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Benchmarks.Datasets;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;
using Spectre.Console;
using TorchSharp;

namespace MLNet.PromptTuning.Samples.VtabRunner;

/// <summary>
/// Runs the protocol: for every task and method, a search over the lr × wd grid (train on the search list, top-1 on
/// the validation list at the last epoch, ties to the smaller rate), then one final run per seed with the chosen
/// values (train on the final list, top-1 on the test list at the last epoch). Every finished unit goes to the
/// journal; a unit found there is not run again. With <see cref="RunnerOptions.UnitCheckpoints"/> a unit interrupted
/// mid-way also resumes from its last finished epoch (the trainer's checkpoint, written and synced every epoch).
/// </summary>
internal sealed class ProtocolRunner : IDisposable
{
    private const int TestChunk = 1024;

    private readonly RunnerOptions _o;
    private readonly TextWriter _output;
    private readonly TrainingProgressView _progress;
    private readonly PromptMethodRegistry _registry;
    private VisionTransformer? _backbone;
    private VisionTransformer? _bf16Backbone;
    private VitConfig? _config;

    public ProtocolRunner(RunnerOptions options, TextWriter output, bool interactive,
        PromptMethodRegistry? registry = null)
    {
        _o = options;
        _output = output;
        _registry = registry ?? PromptMethodRegistry.Default;
        _progress = interactive ? TrainingProgressView.Live(AnsiConsole.Console) : TrainingProgressView.Plain(output);
    }

    /// <summary>Runs every unit not yet in the journal (with a live progress bar when interactive).</summary>
    public int Run(CancellationToken cancellationToken = default) => _progress.Run(() => RunUnits(cancellationToken));

    private int RunUnits(CancellationToken cancellationToken)
    {
        var journal = ResultsJournal.Open(_o.OutputDirectory, _o.Fingerprint(), _o.Restart);
        var directories = BenchmarkTask.Find(_o);
        var tasks = directories.Select(d => BenchmarkTask.Load(d, _o)).ToList();
        var order = tasks.Select(t => t.Name).ToList();
        _config = LoadConfig();
        var description = Backbone(TrainingPrecision.Float32).Description;
        foreach (var method in _o.Methods)
        {
            // Option ranges depend on the backbone (depth, width): check them all before hours of training.
            method.CreateOptions(_registry).Validate(description);
        }

        int total = tasks.Sum(t => _o.Methods.Sum(m => (NeedsSearch(m) ? Grid(m).Count : 0) + _o.Seeds.Count));
        int done = 0;
        _progress.Line(Inv($"{tasks.Count} task(s) × {_o.Methods.Count} method(s): {total} training runs; ") +
            Inv($"{journal.Entries.Count(e => e.Kind is "search" or "final")} already in ") +
                Inv($"{Path.Combine(_o.OutputDirectory, ResultsJournal.FileName)}. ") +
            Inv($"Backbone {_config.Name} ({_config.EmbedDim}×{_config.Depth}, patch {_config.PatchSize}, ") +
                Inv($"{_config.ImageHeight}px), ") +
            $"device {_o.Device}.");

        foreach (var task in tasks)
        {
            using var data = new TaskData(task, _config, _progress);
            foreach (var method in _o.Methods)
            {
                var (lr, wd) = Search(task, method, data, journal, ref done, total, cancellationToken);
                foreach (var seed in _o.Seeds)
                {
                    done++;
                    if (journal.Find("final", task.Name, method.Label, lr, wd, seed) is { } existing)
                    {
                        continue;
                    }

                    var prefix = Inv($"[{done}/{total}] {task.Name} · {method.Label} · final ") +
                        Inv($"lr={lr:G} wd={wd:G} seed ") +
                        Inv($"{seed}");
                    var (accuracy, images, seconds) = TrainAndScore(prefix, task, method, lr, wd, seed, data.FinalTrain,
                        predictor => ScoreFiles(predictor, task, cancellationToken), cancellationToken);
                    journal.Append(Entry("final", task, method, lr, wd, seed, accuracy, images, seconds));
                    _progress.Line(
                        Inv($"{prefix}: test top-1 {accuracy * 100:F2}% on {images} images ({seconds:F0} s)"));
                }
            }

            ResultsReport.Write(_o, journal.Entries, order);
        }

        ResultsReport.Write(_o, journal.Entries, order);
        _progress.Line(
            $"Results: {Path.Combine(_o.OutputDirectory, ResultsReport.MarkdownFile)} and {ResultsReport.CsvFile}");
        return 0;
    }

    private (double Lr, double Wd) Search(
        BenchmarkTask task, MethodSpec method, TaskData data, ResultsJournal journal, ref int done, int total,
        CancellationToken cancellationToken)
    {
        var grid = Grid(method);
        if (!NeedsSearch(method))
        {
            return grid[0];
        }

        if (task.SearchValidation.Count == 0 || task.SearchTrain.Count == 0)
        {
            throw new InvalidOperationException(
                $"Task {task.Name} has no search lists " +
                $"({(_o.Benchmark == "vtab" ? "train800.txt / val200.txt" : "val.json")}), " +
                $"so the {grid.Count}-point grid of {method.Label} cannot be searched. Pass one --lr and one --wd " +
                $"value " +
                "(or lr=/wd= in the method) to skip the search.");
        }

        (double Lr, double Wd) best = grid[0];
        double bestAccuracy = double.NegativeInfinity;
        int seed = _o.Seeds[0];
        foreach (var (lr, wd) in grid)
        {
            done++;
            double accuracy;
            if (journal.Find("search", task.Name, method.Label, lr, wd, seed) is { } existing)
            {
                accuracy = existing.Accuracy;
            }
            else
            {
                var prefix = Inv($"[{done}/{total}] {task.Name} · {method.Label} · search lr={lr:G} wd={wd:G}");
                var validation = data.SearchValidation;
                (accuracy, var images, var seconds) = TrainAndScore(prefix, task, method, lr, wd, seed,
                    data.SearchTrain,
                    predictor => (predictor.Accuracy(validation), validation.Count), cancellationToken);
                journal.Append(Entry("search", task, method, lr, wd, seed, accuracy, images, seconds));
                _progress.Line(Inv($"{prefix}: validation top-1 {accuracy * 100:F2}% ({seconds:F0} s)"));
            }

            // Grid order is ascending lr then wd, so a strict improvement keeps ties on the smaller values.
            if (accuracy > bestAccuracy)
            {
                bestAccuracy = accuracy;
                best = (lr, wd);
            }
        }

        _progress.Line(
            Inv($"{task.Name} · {method.Label}: chose lr={best.Lr:G} wd={best.Wd:G} (validation ") +
                Inv($"{bestAccuracy * 100:F2}%)"));
        return best;
    }

    private (double Accuracy, int Images, double Seconds) TrainAndScore(
        string prefix, BenchmarkTask task, MethodSpec method, double lr, double wd, int seed, ImageTensorDataset train,
        Func<ClassifierPredictor, (double Accuracy, int Images)> score, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var options = method.CreateOptions(_registry);
        bool trainsBackbone = options.Scope.TrainsBackbone;
        var precision = trainsBackbone ? TrainingPrecision.Float32 : _o.Precision;
        torch.manual_seed(seed);
        using var model = new PromptedVisionTransformer(
            Backbone(precision), options, task.NumberOfClasses, headInitialization: _o.HeadInitialization);
        if (precision == TrainingPrecision.BFloat16)
        {
            model.SetComputePrecision(torch.ScalarType.BFloat16);
        }

        var checkpoint = Path.Combine(_o.OutputDirectory, "checkpoints",
            string.Join("_", new[] { task.Name, method.Label, Inv($"{lr:G}"), Inv($"{wd:G}"), Inv($"{seed}") }
                .Select(s => string.Concat(s.Select(c => char.IsLetterOrDigit(c) || c is '.' or '-' ? c : '_')))));
        var training = new TrainingOptions
        {
            MaxEpoch = _o.Epochs,
            BatchSize = _o.BatchSize,
            LearningRate = _o.EffectiveLearningRate(lr),
            WeightDecay = wd,
            Optimizer = _o.Optimizer,
            Schedule = _o.Schedule,
            WarmupEpochs = Math.Min(_o.WarmupEpochs, _o.Epochs),
            Seed = seed,
            Device = _o.Device,
            NumberOfThreads = _o.Threads,
            Precision = precision,
            HorizontalFlip = task.HorizontalFlip || _o.Recipe?.HorizontalFlip == true,
            // The recipe's other settings, set outright so a grid value never counts as "left at its default".
            RandomResizedCrop = _o.Recipe?.RandomResizedCrop == true,
            LabelSmoothing = _o.Recipe?.LabelSmoothing ?? 0,
            MixupAlpha = _o.Recipe?.MixupAlpha ?? 0,
            MixupProbability = _o.Recipe?.MixupProbability ?? 1,
            AdamEpsilon = _o.Recipe?.AdamEpsilon ?? 1e-8,
            Momentum = _o.Recipe?.Momentum ?? 0.9,
            LogEveryNSteps = 0,
            CheckpointDirectory = _o.UnitCheckpoints ? checkpoint : null,
        };
        _progress.Prefix = prefix;
        new ClassifierTrainer(training, progress: _progress).Train(model, train, cancellationToken: cancellationToken);
        var predictor = new ClassifierPredictor(model, _o.Device, precision, _o.EvaluationBatchSize);
        var (accuracy, images) = score(predictor);
        if (Directory.Exists(checkpoint))
        {
            Directory.Delete(checkpoint, recursive: true);
        }

        return (accuracy, images, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Top-1 on the test list, decoded in chunks so a 70k-image test set never sits in memory at
    /// once.</summary>
    private (double Accuracy, int Images) ScoreFiles(ClassifierPredictor predictor, BenchmarkTask task,
        CancellationToken cancellationToken)
    {
        long correct = 0;
        for (int start = 0; start < task.Test.Count; start += TestChunk)
        {
            var chunk = task.Test.Skip(start).Take(TestChunk).ToArray();
            using var images = ImageFileLoader.Load(chunk, _config!.InChannels, _config.ImageHeight, _config.ImageWidth,
                task.Fit,
                cancellationToken: cancellationToken);
            correct += (long)Math.Round(predictor.Accuracy(images) * images.Count);
        }

        return (task.Test.Count == 0 ? 0 : correct / (double)task.Test.Count, task.Test.Count);
    }

    /// <summary>The shared frozen backbone; a second bf16 copy when bf16 is asked for, so the float32 one stays
    /// exact.</summary>
    private VisionTransformer Backbone(TrainingPrecision precision)
    {
        _backbone ??= LoadBackbone();
        if (precision != TrainingPrecision.BFloat16)
        {
            return _backbone;
        }

        if (_bf16Backbone is null)
        {
            _bf16Backbone = LoadBackbone();
        }

        return _bf16Backbone;
    }

    private VisionTransformer LoadBackbone()
    {
        var backbone = new VisionTransformer(_config!);
        BackboneCheckpoint.Load(backbone, _o.BackbonePath);
        return backbone;
    }

    private VitConfig LoadConfig()
    {
        VitConfig config;
        if (_o.Variant is { } variant)
        {
            config = VitVariants.Create(variant, _o.PatchSize, _o.ImageSize);
        }
        else
        {
            try
            {
                config = BackboneCheckpoint.ReadConfig(_o.BackbonePath);
            }
            catch (InvalidDataException e)
            {
                throw new ArgumentException(
                    $"'{_o.BackbonePath}' does not record its architecture; pass --variant tiny|small|base|large " +
                    $"with " +
                    $"--patch and --image-size. ({e.Message})", e);
            }
        }

        int size = config.ImageHeight;
        return _o.Normalization switch
        {
            "imagenet" when config.InChannels == 3 =>
                config with { Preprocessing = ImagePreprocessing.ImageNet(size) with { Width = config.ImageWidth } },
            "inception" =>
                config with { Preprocessing = ImagePreprocessing.Inception(size,
                    config.InChannels) with { Width = config.ImageWidth } },
            _ => config,
        };
    }

    private IReadOnlyList<(double Lr, double Wd)> Grid(MethodSpec method) =>
        (method.LearningRates ?? _o.LearningRates).Order()
            .SelectMany(lr => (method.WeightDecays ?? _o.WeightDecays).Order().Select(wd => (lr, wd)))
            .ToArray();

    private bool NeedsSearch(MethodSpec method) => Grid(method).Count > 1;

    private static JournalEntry Entry(
        string kind, BenchmarkTask task, MethodSpec method, double lr, double wd, int seed, double accuracy, int images,
        double seconds) => new()
        {
            Kind = kind,
            Task = task.Name,
            Display = task.DisplayName,
            Group = task.Group,
            Method = method.Label,
            Lr = lr,
            Wd = wd,
            Seed = seed,
            Accuracy = accuracy,
            Images = images,
            Seconds = Math.Round(seconds, 1),
            Utc = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
        };

    public void Dispose()
    {
        _backbone?.Dispose();
        _bf16Backbone?.Dispose();
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>The decoded training and validation sets of one task, loaded on first use and freed with the
    /// task.</summary>
    private sealed class TaskData : IDisposable
    {
        private readonly BenchmarkTask _task;
        private readonly VitConfig _config;
        private readonly TrainingProgressView _progress;
        private ImageTensorDataset? _searchTrain;
        private ImageTensorDataset? _searchValidation;
        private ImageTensorDataset? _finalTrain;

        public TaskData(BenchmarkTask task, VitConfig config, TrainingProgressView progress)
        {
            _task = task;
            _config = config;
            _progress = progress;
        }

        public ImageTensorDataset SearchTrain => _searchTrain ??= Load(_task.SearchTrain, "search training");

        public ImageTensorDataset SearchValidation => _searchValidation ??= Load(_task.SearchValidation, "validation");

        public ImageTensorDataset FinalTrain => _finalTrain ??=
            ReferenceEquals(_task.FinalTrain, _task.SearchTrain) ? SearchTrain
                : Load(_task.FinalTrain, "final training");

        public void Dispose()
        {
            if (!ReferenceEquals(_finalTrain, _searchTrain))
            {
                _finalTrain?.Dispose();
            }

            _searchTrain?.Dispose();
            _searchValidation?.Dispose();
        }

        private ImageTensorDataset Load(IReadOnlyList<LabeledImageFile> files, string what)
        {
            _progress.Line(
                Inv($"{_task.Name}: decoding {files.Count} {what} images at ") +
                    Inv($"{_config.ImageHeight}×{_config.ImageWidth}"));
            return ImageFileLoader.Load(files, _config.InChannels, _config.ImageHeight, _config.ImageWidth, _task.Fit);
        }
    }
}
