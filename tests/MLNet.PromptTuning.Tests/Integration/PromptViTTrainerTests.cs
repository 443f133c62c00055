using System.Globalization;
using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Tests.Interop;
using MLNet.PromptTuning.Tests.TestSupport;
using MLNet.PromptTuning.Training;
using Xunit;

namespace MLNet.PromptTuning.Tests.Integration;

/// <summary>PromptViT in ordinary ML.NET pipelines: schema, persistence, adapters, errors, logging,
/// cancellation.</summary>
public sealed class PromptViTTrainerTests
{
    [Fact]
    public void WholeChainSavesAndLoadsInAFreshProcessWithBitIdenticalScores()
    {
        // Parent and child score at the same thread count: bits differ across counts.
        using var threads = new TorchThreadScope();
        using var fixture = PromptViTFixture.Create();
        var ml = new MLContext(seed: 1);
        IDataView data = fixture.LoadRows(ml);
        var chain = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadRawImageBytes("Image", fixture.Images.Folder, "Path"))
            .Append(ml.MulticlassClassification.Trainers.PromptViT(fixture.Options()))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"));
        var model = chain.Fit(data);
        IDataView scored = model.Transform(data);
        string[] expected = ScoreReading.ReadVectors(scored, "Score").Select(ScoreReading.Bits).ToArray();

        // Evaluate reads the trainer's columns: its accuracy is the share of rows whose predicted value is the label.
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        Assert.Equal(3, metrics.ConfusionMatrix.NumberOfClasses);
        string[] truth = fixture.Images.Rows.Select(r => r.Label).ToArray();
        string[] predictedValues = scored.GetColumn<string>("PredictedLabelValue").ToArray();
        Assert.Equal(truth.Zip(predictedValues).Count(p => p.First == p.Second) / (double)truth.Length,
            metrics.MicroAccuracy, 12);

        string modelPath = Path.Combine(fixture.Images.Folder, "model.zip");
        ml.Model.Save(model, data.Schema, modelPath);
        using (ZipArchive zip = ZipFile.OpenRead(modelPath))
        {
            var entries = zip.Entries.Select(e => e.FullName.Replace('\\', '/')).ToArray();
            Assert.Contains("TransformerChain/Transform_002/Backbone.safetensors", entries);
            Assert.Contains("TransformerChain/Transform_002/Trainable.safetensors", entries);
        }

        string output = Path.Combine(fixture.Images.Folder, "fresh.txt");
        PersistenceTests.RunFreshProcess(SavedModelScorer.Command, modelPath, fixture.Images.WriteTsv(),
            fixture.Images.Folder, output, threads.Threads.ToString(CultureInfo.InvariantCulture));
        string[] lines = File.ReadAllLines(output);
        Assert.Equal("library-loaded-before-load=False", lines[0]);
        Assert.Equal("library-loaded-after-load=True", lines[1]);
        Assert.Equal(expected, lines.Where(l => l.StartsWith("score=", StringComparison.Ordinal)).Select(l => l[6..]));
        Assert.Equal(scored.GetColumn<string>("PredictedLabelValue"),
            lines.Where(l => l.StartsWith("predicted=", StringComparison.Ordinal)).Select(l => l[10..]));
    }

    [Fact]
    public void OutputColumnsAreThoseOfANativeMulticlassTrainer()
    {
        using var fixture = PromptViTFixture.Create(6);
        var ml = new MLContext(seed: 1);
        var data = Prepare(ml, fixture, fixture.LoadRows(ml));
        using var model = ml.MulticlassClassification.Trainers.PromptViT(fixture.Options(epochs: 1)).Fit(data);
        var schema = model.GetOutputSchema(data.Schema);

        var score = schema["Score"];
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 3), score.Type);
        VBuffer<ReadOnlyMemory<char>> slotNames = default;
        score.GetSlotNames(ref slotNames);
        Assert.Equal(TestImageSet.ClassNames, slotNames.DenseValues().Select(v => v.ToString()));
        var predicted = schema["PredictedLabel"];
        Assert.Equal(3UL, Assert.IsType<KeyDataViewType>(predicted.Type).Count);
        Assert.Equal(TestImageSet.ClassNames, model.ClassNames);
        Assert.Equal("vpt", model.MethodId);
        Assert.Single(model.TrainingResult.History);
    }

    [Fact]
    public void PredictionEngineAndConcurrentEnginesAgreeWithBatchedScoring()
    {
        using var fixture = PromptViTFixture.Create(9);
        var ml = new MLContext(seed: 1);
        var rows = fixture.LoadRows(ml);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", fixture.Images.Folder, "Path"))
            .Append(ml.MulticlassClassification.Trainers.PromptViT(fixture.Options(epochs: 1)))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"));
        var model = pipeline.Fit(rows);
        var batched = ScoreReading.ReadVectors(model.Transform(rows), "Score");
        var inputs = ml.Data.CreateEnumerable<ImageRow>(rows, reuseRowObject: false).ToArray();

        var results = new float[4][][];
        Parallel.For(0, 4, t =>
        {
            // A PredictionEngine disposes the model it was made from unless told otherwise (ML.NET's default).
            using var engine = ml.Model.CreatePredictionEngine<ImageRow, ScoredImage>(
                model, new PredictionEngineOptions { OwnsTransformer = false });
            results[t] = inputs.Select(i => engine.Predict(i).Score.ToArray()).ToArray();
        });

        foreach (var threadResult in results)
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                Assert.Equal(batched[i].Length, threadResult[i].Length);
                for (int k = 0; k < batched[i].Length; k++)
                {
                    Assert.True(Math.Abs(batched[i][k] - threadResult[i][k]) < 1e-5f, $"row {i}, class {k}");
                }
            }
        }
    }

    [Fact]
    public void PixelVectorsScoreLikeTheImagesTheyCameFrom()
    {
        using var fixture = PromptViTFixture.Create(6);
        var ml = new MLContext(seed: 1);
        var rows = fixture.LoadRows(ml);
        // ExtractPixels needs images of a known size.
        var data = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", fixture.Images.Folder, "Path"))
            .Append(ml.Transforms.ResizeImages("Image", fixture.Images.Width, fixture.Images.Height))
            .Fit(rows).Transform(rows);
        using var model = ml.MulticlassClassification.Trainers.PromptViT(fixture.Options(epochs: 1)).Fit(data);
        var fromImages = ScoreReading.ReadVectors(model.Transform(data), "Score");

        var pixels = ml.Transforms.ExtractPixels("Pixels", "Image",
            interleavePixelColors: false).Fit(data).Transform(data);
        var options = fixture.Options(epochs: 1);
        options.ImageColumnName = "Pixels";
        using var pixelModel = ml.MulticlassClassification.Trainers.PromptViT(options).Fit(pixels);
        var fromPixels = ScoreReading.ReadVectors(pixelModel.Transform(pixels), "Score");
        Assert.Equal(fromImages.Select(ScoreReading.Bits), fromPixels.Select(ScoreReading.Bits));
    }

    [Fact]
    public void AdapterRoundTripGivesIdenticalScoresAndRefusesAnotherBackbone()
    {
        using var fixture = PromptViTFixture.Create(6);
        var ml = new MLContext(seed: 1);
        var data = Prepare(ml, fixture, fixture.LoadRows(ml));
        using var model = ml.MulticlassClassification.Trainers.PromptViT(fixture.Options(epochs: 1)).Fit(data);
        var expected = ScoreReading.ReadVectors(model.Transform(data), "Score").Select(ScoreReading.Bits).ToArray();

        string adapter = Path.Combine(fixture.Images.Folder, "adapter");
        model.SaveAdapter(adapter);
        Assert.Equal(new[] { "adapter_manifest.json", "adapter_model.safetensors" },
            Directory.GetFiles(adapter).Select(Path.GetFileName).OrderBy(n => n));
        Assert.Empty(Directory.GetDirectories(fixture.Images.Folder, ".adapter*"));
        Assert.Throws<IOException>(() => model.SaveAdapter(adapter));
        using (var weights = MLNet.PromptTuning.Checkpoints.SafeTensorsReader.Open(Path.Combine(adapter,
            "adapter_model.safetensors")))
        {
            // Only what training produced: the prompts and the head, never the frozen backbone.
            Assert.All(weights.Tensors, t =>
                Assert.True(t.Name.StartsWith("prompt.") || t.Name.StartsWith("head."), t.Name));
            Assert.Equal(model.Model.CountTrainableParameters(), weights.Tensors.Sum(t => t.ElementCount));
        }


        using (var loaded = PromptViTTransformer.LoadAdapter(new MLContext(seed: 5), adapter, fixture.BackbonePath))
        {
            Assert.Equal(expected, ScoreReading.ReadVectors(loaded.Transform(data), "Score").Select(ScoreReading.Bits));
        }

        using var other = TinyModels.Backbone(seed: 99);
        var error = Assert.Throws<ArgumentException>(() => PromptViTTransformer.LoadAdapter(ml, adapter, other));
        Assert.Contains("fingerprint", error.Message);
    }

    [Fact]
    public void TrainingLogsThroughMLContextAndReportsProgressAndEpochMetrics()
    {
        using var fixture = PromptViTFixture.Create(6);
        var ml = new MLContext(seed: 1);
        var log = new LogMessages(ml);
        var data = Prepare(ml, fixture, fixture.LoadRows(ml));
        var reports = new List<TrainingProgress>();
        var epochs = new List<EpochSummary>();
        var options = fixture.Options(epochs: 2);
        options.Progress = new SynchronousProgress<TrainingProgress>(reports.Add);
        options.MetricsCallback = epochs.Add;
        options.ValidationSetFraction = 0.34f;
        using var model = ml.MulticlassClassification.Trainers.PromptViT(options).Fit(data);

        Assert.Contains(log.All, m => m.Contains("PromptViT: method 'vpt'"));
        Assert.Equal(2, epochs.Count);
        Assert.All(epochs, e => Assert.NotNull(e.ValidationAccuracy));
        Assert.Contains(reports, r => r.Phase == TrainingPhase.Training && r.Loss is > 0);
        Assert.Equal(TrainingPhase.Completed, reports[^1].Phase);
    }

    [Fact]
    public void CancellationStopsBetweenStepsKeepsTheLastEpochCheckpointAndResumesFromIt()
    {
        using var fixture = PromptViTFixture.Create(8);
        var ml = new MLContext(seed: 1);
        var data = Prepare(ml, fixture, fixture.LoadRows(ml));
        using var cancel = new CancellationTokenSource();
        var options = fixture.Options(epochs: 4);
        options.CheckpointDirectory = Path.Combine(fixture.Images.Folder, "checkpoints");
        options.CancellationToken = cancel.Token;
        int steps = 0;
        options.Progress = new SynchronousProgress<TrainingProgress>(r =>
        {
            if (r.Phase == TrainingPhase.Training && ++steps == 3)
            {
                cancel.Cancel();
            }
        });

        // 8 images in batches of 4: step 3 is the first step of epoch 2, so epoch 1's checkpoint is complete.
        Assert.ThrowsAny<OperationCanceledException>(() =>
            ml.MulticlassClassification.Trainers.PromptViT(options).Fit(data));
        Assert.Equal(3, steps);
        Assert.Equal(new[] { "training-state.ckpt" },
            Directory.GetFiles(options.CheckpointDirectory).Select(Path.GetFileName));

        var resumed = options with { CancellationToken = CancellationToken.None, Progress = null };
        using var model = ml.MulticlassClassification.Trainers.PromptViT(resumed).Fit(data);
        Assert.Equal(1, model.TrainingResult.ResumedFromEpoch);
        Assert.Equal(4, model.TrainingResult.History.Count);
    }

    [Fact]
    public void SeededFitsAreBitIdentical()
    {
        using var fixture = PromptViTFixture.Create(6);
        var ml = new MLContext(seed: 1);
        var data = Prepare(ml, fixture, fixture.LoadRows(ml));
        using var first = ml.MulticlassClassification.Trainers.PromptViT(fixture.Options(epochs: 2)).Fit(data);
        using var second = ml.MulticlassClassification.Trainers.PromptViT(fixture.Options(epochs: 2)).Fit(data);
        Assert.Equal(ScoreReading.ReadVectors(first.Transform(data), "Score").Select(ScoreReading.Bits),
            ScoreReading.ReadVectors(second.Transform(data), "Score").Select(ScoreReading.Bits));
    }

    [Fact]
    public void DisposedModelRefusesToScore()
    {
        using var fixture = PromptViTFixture.Create(6);
        var ml = new MLContext(seed: 1);
        var data = Prepare(ml, fixture, fixture.LoadRows(ml));
        var model = ml.MulticlassClassification.Trainers.PromptViT(fixture.Options(epochs: 1)).Fit(data);
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => model.Transform(data));
    }

    [Fact]
    public void BatchSizeLargerThanTheDataIsAllowed()
    {
        using var fixture = PromptViTFixture.Create(5);
        var ml = new MLContext(seed: 1);
        var data = Prepare(ml, fixture, fixture.LoadRows(ml));
        var options = fixture.Options(epochs: 1);
        options.BatchSize = 64;
        using var model = ml.MulticlassClassification.Trainers.PromptViT(options).Fit(data);
        Assert.Equal(5, ScoreReading.ReadVectors(model.Transform(data), "Score").Count);
    }

    internal static IDataView Prepare(MLContext ml, PromptViTFixture fixture, IDataView rows) =>
        ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", fixture.Images.Folder, "Path"))
            .Fit(rows).Transform(rows);

    private sealed class SynchronousProgress<T> : IProgress<T>
    {
        private readonly Action<T> _handler;

        public SynchronousProgress(Action<T> handler)
        {
            _handler = handler;
        }

        public void Report(T value) => _handler(value);
    }
}
