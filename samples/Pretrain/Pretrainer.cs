using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Methods.FullFineTune;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Training;
using TorchSharp;

namespace MLNet.PromptTuning.Samples.Pretrain;

/// <summary>Trains the small ViT from scratch on Fashion-MNIST classes 0-4 and saves the backbone with its model
/// card.</summary>
internal static class Pretrainer
{
    /// <summary>The pretraining classes, in label order.</summary>
    public static readonly int[] Classes = { 0, 1, 2, 3, 4 };

    public static void Run(PretrainSettings s)
    {
        var wall = Stopwatch.StartNew();
        var (trainPixels, trainLabels) = FashionMnist.Load("train", s.DataDirectory);
        var (testPixels, testLabels) = FashionMnist.Load("t10k", s.DataDirectory);
        var train = FashionMnist.Select(trainPixels, trainLabels, Classes, s.ImagesPerClass);
        var test = FashionMnist.Select(testPixels, testLabels, Classes);
        var (mean, std) = PixelStatistics(train.Pixels);

        var config = new VitConfig
        {
            Name = Inv($"vit_fmnist5_d{s.EmbedDim}_l{s.Depth}_h{s.NumHeads}_p{s.PatchSize}_28"),
            ImageHeight = FashionMnist.Side,
            ImageWidth = FashionMnist.Side,
            PatchSize = s.PatchSize,
            InChannels = 1,
            EmbedDim = s.EmbedDim,
            Depth = s.Depth,
            NumHeads = s.NumHeads,
            Preprocessing = new ImagePreprocessing(FashionMnist.Side, FashionMnist.Side, 1, new[] { mean },
                new[] { std }),
        };

        var options = new TrainingOptions
        {
            Optimizer = OptimizerKind.AdamW,
            LearningRate = s.LearningRate,
            WeightDecay = s.WeightDecay,
            MaxEpoch = s.Epochs,
            BatchSize = s.BatchSize,
            InferenceBatchSize = 500,
            WarmupEpochs = s.WarmupEpochs,
            Schedule = LearningRateSchedule.Cosine,
            LabelSmoothing = s.LabelSmoothing,
            GradientClipNorm = 1.0,
            HorizontalFlip = true,
            Seed = s.Seed,
            NumberOfThreads = s.Threads,
            Device = "cpu",
            LogEveryNSteps = 0,  // one log line per epoch; the live bar (on a terminal) shows the steps
        };

        Console.WriteLine(Inv($"Pretraining {config.Name} on {train.Labels.Length} images of classes 0-4 ") +
                          Inv($"(test {test.Labels.Length}); mean {mean}, std {std}."));
        torch.manual_seed(s.Seed);
        var backbone = new VisionTransformer(config);
        using var model = new PromptedVisionTransformer(backbone, new FullFineTuneOptions(), Classes.Length,
            ownsBackbone: true);
        InitializeHeadLikeTimm(model);
        using var trainSet = ImageTensorDataset.FromPixels(train.Pixels, train.Labels, 1, FashionMnist.Side,
            FashionMnist.Side);
        using var testSet = ImageTensorDataset.FromPixels(test.Pixels, test.Labels, 1, FashionMnist.Side,
            FashionMnist.Side);

        var trainClock = Stopwatch.StartNew();
        // The test set is scored after every epoch for the log only; no setting is chosen from it and the last
        // epoch's weights are kept.
        // The trainer's epoch summaries (loss, train and test accuracy) are the per-epoch lines; on a terminal a live
        // bar shows the steps in between.
        var progress = TrainingProgressView.ForConsole();
        var result = progress.Run(() => new ClassifierTrainer(options, new ConsoleLogger(progress),
            progress.IsLive ? progress : null).Train(model, trainSet, testSet));
        var trainTime = trainClock.Elapsed;

        var predictor = new ClassifierPredictor(model, "cpu", batchSize: 500);
        double trainAccuracy = predictor.Accuracy(trainSet);
        double testAccuracy = predictor.Accuracy(testSet);
        var confusion = Confusion(predictor, testSet, Classes.Length);
        Console.WriteLine(
            Inv($"Final accuracy: train {trainAccuracy:P2}, test {testAccuracy:P2}; training took ") +
                Inv($"{trainTime:hh\\:mm\\:ss}."));

        Directory.CreateDirectory(s.OutputDirectory);
        string weightsPath = Path.Combine(s.OutputDirectory, "model.safetensors");
        var metadata = new Dictionary<string, string>
        {
            ["pretrained_on"] = "Fashion-MNIST classes 0-4 (T-shirt/top, Trouser, Pullover, Dress, Coat), Debian " +
                "dataset-fashion-mnist",
            ["data_license"] = "MIT, Copyright (c) 2017 Zalando SE",
            ["seed"] = s.Seed.ToString(CultureInfo.InvariantCulture),
            ["epochs"] = s.Epochs.ToString(CultureInfo.InvariantCulture),
            ["test_accuracy_classes_0_4"] = testAccuracy.ToString("F4", CultureInfo.InvariantCulture),
        };
        BackboneCheckpoint.Save(model.Backbone, weightsPath, metadata: metadata);
        VerifyRoundTrip(model.Backbone, weightsPath, testSet);

        var card = new ModelCard(s, config, options, result, trainAccuracy, testAccuracy, trainTime, wall.Elapsed,
            CountParameters(model.Backbone), weightsPath, Sha256(weightsPath), DebianPackageVersion(),
            Sha256Idx(s.DataDirectory), confusion);
        File.WriteAllText(Path.Combine(s.OutputDirectory, "MODEL_CARD.md"), card.Render());
        Console.WriteLine(
            Inv($"Saved {weightsPath} ({new FileInfo(weightsPath).Length / 1024.0 / 1024.0:F2} MB) and ") +
                Inv($"MODEL_CARD.md ") +
                Inv($"in {wall.Elapsed:hh\\:mm\\:ss}."));
    }

    /// <summary>
    /// The prompt-tuning head starts with VPT's wide initialisation (std sqrt(2/C), logits around ±7 on fresh
    /// features), which suits a pretrained backbone; from scratch it makes the first steps erratic, so use timm's ViT
    /// head initialisation instead (truncated normal, std 0.02, zero bias). The head is discarded after pretraining.
    /// </summary>
    private static void InitializeHeadLikeTimm(PromptedVisionTransformer model)
    {
        using var noGrad = torch.no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (name == "head.weight")
            {
                torch.nn.init.trunc_normal_(parameter, std: 0.02);
            }
            else if (name == "head.bias")
            {
                torch.nn.init.zeros_(parameter);
            }
        }
    }

    /// <summary>Mean and standard deviation of the pixels scaled to [0, 1], rounded to 4 decimals.</summary>
    private static (float Mean, float Std) PixelStatistics(byte[] pixels)
    {
        double sum = 0, sumSquares = 0;
        foreach (byte p in pixels)
        {
            double v = p / 255.0;
            sum += v;
            sumSquares += v * v;
        }

        double mean = sum / pixels.Length;
        double std = Math.Sqrt(sumSquares / pixels.Length - mean * mean);
        return ((float)Math.Round(mean, 4), (float)Math.Round(std, 4));
    }

    /// <summary>Reopens the saved file from its metadata alone and checks the features are bit-identical.</summary>
    private static void VerifyRoundTrip(VisionTransformer trained, string path, ImageTensorDataset data)
    {
        using var scope = torch.NewDisposeScope();
        using var reloaded = BackboneCheckpoint.LoadBackbone(path);
        using var preprocessor = new ImagePreprocessor(reloaded.Config.Preprocessing);
        using var noGrad = torch.no_grad();
        var (images, _) = data.GetBatch(0, 64);
        var input = preprocessor.Process(images, torch.CPU);
        trained.eval();
        reloaded.eval();
        var expected = trained.ForwardFeatures(input);                   // [64, D]
        var actual = reloaded.ForwardFeatures(input);                    // [64, D]
        if (!expected.shape.SequenceEqual(actual.shape) || !torch.eq(expected, actual).all().item<bool>())
        {
            throw new InvalidOperationException(
                $"The backbone reloaded from {path} does not reproduce the trained features.");
        }

        Console.WriteLine("Reloaded the saved backbone from its metadata: features are bit-identical.");
    }

    private static long[,] Confusion(ClassifierPredictor predictor, ImageTensorDataset data, int classes)
    {
        using var scope = torch.NewDisposeScope();
        var predicted = predictor.PredictScores(data).argmax(1).data<long>().ToArray();
        var truth = data.Labels.data<long>().ToArray();
        var matrix = new long[classes, classes];
        for (int i = 0; i < truth.Length; i++)
        {
            matrix[truth[i], predicted[i]]++;
        }

        return matrix;
    }

    private static long CountParameters(VisionTransformer backbone) => backbone.parameters().Sum(p => p.numel());

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>SHA-256 of the decompressed IDX files (Debian recompressed the .gz files, so their hashes differ from
    /// upstream).</summary>
    private static IReadOnlyList<(string File, string Hash)> Sha256Idx(string directory)
    {
        var hashes = new List<(string, string)>();
        foreach (var name in new[] { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" })
        {
            using var file = File.OpenRead(Path.Combine(directory, name));
            using var gzip = new System.IO.Compression.GZipStream(file,
                System.IO.Compression.CompressionMode.Decompress);
            hashes.Add((name[..^3], Convert.ToHexStringLower(SHA256.HashData(gzip))));
        }

        return hashes;
    }

    private static string DebianPackageVersion()
    {
        try
        {
            var info = new ProcessStartInfo("dpkg-query", ["-W", "-f=${Version}", "dataset-fashion-mnist"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(info)!;
            string output = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return process.ExitCode == 0 && output.Length > 0 ? output : "unknown";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown (dpkg-query not available)";
        }
    }

    private static string Inv(FormattableString text) => FormattableString.Invariant(text);

    private sealed class ConsoleLogger : ITrainingLogger
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly TrainingProgressView _progress;

        public ConsoleLogger(TrainingProgressView progress) => _progress = progress;

        public void Log(TrainingLogLevel level, string message) =>
            _progress.Line(FormattableString.Invariant($"[{_clock.Elapsed:hh\\:mm\\:ss}] {message}"));
    }
}
