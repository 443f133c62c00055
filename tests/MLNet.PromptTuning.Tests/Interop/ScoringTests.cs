using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Interop;
using Xunit;

namespace MLNet.PromptTuning.Tests.Interop;

public sealed class ScoringTests
{
    private readonly MLContext _ml = new(seed: 1);

    [Fact]
    public void BatchScoringEqualsRowScoringAndCallsTheScorerOncePerBatch()
    {
        using TestImageSet images = TestImageSet.Create(7);
        IDataView data = _ml.Data.LoadFromEnumerable(images.Rows);
        var prefix = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.Transforms.LoadImages("Image", images.Folder, "Path"))
            .Fit(data);
        IDataView loaded = prefix.Transform(data);
        ClassLabels classes = ClassLabels.FromLabelColumn(loaded.Schema["Label"]);

        PixelMeanLinearTransformer batched = PixelMeanLinearEstimator.Create(_ml, classes, batchSize: 3);
        var scorer = (PixelMeanLinearScorer)batched.Core.Scorer;
        IDataView scored = batched.Transform(loaded);
        List<float[]> batchScores = ScoreReading.ReadVectors(scored, "Score");
        Assert.Equal(3, scorer.Calls); // 3 + 3 + 1: the last, partial batch is scored too

        // The row-by-row path, as PredictionEngine uses it.
        var chain = new TransformerChain<ITransformer>(prefix, batched);
        using var engine = _ml.Model.CreatePredictionEngine<ImageRow, ScoredImage>(chain);
        List<float[]> rowScores = images.Rows.Select(r => engine.Predict(r).Score).ToList();
        Assert.Equal(3 + 7, scorer.Calls);

        Assert.Equal(rowScores.Select(ScoreReading.Bits), batchScores.Select(ScoreReading.Bits));

        // The batch size changes nothing but the number of calls.
        foreach (int batchSize in new[] { 1, 2, 7, 64 })
        {
            IDataView other = PixelMeanLinearEstimator.Create(_ml, classes, batchSize: batchSize).Transform(loaded);
            Assert.Equal(batchScores.Select(ScoreReading.Bits),
                ScoreReading.ReadVectors(other, "Score").Select(ScoreReading.Bits));
        }
    }

    [Fact]
    public void PassThroughColumnsStayAlignedWithTheirScores()
    {
        using TestImageSet images = TestImageSet.Create(8);
        IDataView data = _ml.Data.LoadFromEnumerable(images.Rows);
        var prefix = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.Transforms.LoadImages("Image", images.Folder, "Path"))
            .Fit(data);
        IDataView loaded = prefix.Transform(data);
        ClassLabels classes = ClassLabels.FromLabelColumn(loaded.Schema["Label"]);
        var chain = new TransformerChain<ITransformer>(prefix,
            PixelMeanLinearEstimator.Create(_ml, classes, batchSize: 3));
        using var engine = _ml.Model.CreatePredictionEngine<ImageRow, ScoredImage>(chain);
        Dictionary<string,
            string> expected = images.Rows.ToDictionary(r => r.Path, r => ScoreReading.Bits(engine.Predict(r).Score));

        IDataView scored = chain.Transform(data);
        DataViewSchema.Column path = scored.Schema["Path"];
        DataViewSchema.Column score = scored.Schema["Score"];
        DataViewSchema.Column predicted = scored.Schema["PredictedLabel"];
        DataViewSchema.Column label = scored.Schema["Label"];
        using DataViewRowCursor cursor = scored.GetRowCursor(new[] { path, score, predicted, label });
        ValueGetter<ReadOnlyMemory<char>> getPath = cursor.GetGetter<ReadOnlyMemory<char>>(path);
        ValueGetter<VBuffer<float>> getScore = cursor.GetGetter<VBuffer<float>>(score);
        ValueGetter<uint> getPredicted = cursor.GetGetter<uint>(predicted);
        ValueGetter<uint> getLabel = cursor.GetGetter<uint>(label);
        ReadOnlyMemory<char> p = default;
        VBuffer<float> s = default;
        uint k = 0, l = 0;
        int rows = 0;
        while (cursor.MoveNext())
        {
            getPath(ref p);
            getScore(ref s);
            getPredicted(ref k);
            getLabel(ref l);
            Assert.Equal(rows, cursor.Position);
            Assert.Equal(expected[p.ToString()], ScoreReading.Bits(s.DenseValues()));
            Assert.Equal(l, k); // the dummy classifier is right on these images
            rows++;
        }

        Assert.Equal(8, rows);
    }

    [Fact]
    public void ScoresAreComputedOnlyWhenAScoreColumnIsRead()
    {
        using TestImageSet images = TestImageSet.Create(5);
        IDataView data = _ml.Data.LoadFromEnumerable(images.Rows);
        IDataView loaded = _ml.Transforms.LoadImages("Image", images.Folder, "Path").Fit(data).Transform(data);
        PixelMeanLinearTransformer transformer = PixelMeanLinearEstimator.Create(_ml, ClassLabels.WithoutValues(3));
        var scorer = (PixelMeanLinearScorer)transformer.Core.Scorer;

        IDataView scored = transformer.Transform(loaded);
        Assert.Equal(images.Rows.Select(r => r.Label), scored.GetColumn<string>("Label"));
        Assert.Equal(0, scorer.Calls);

        Assert.Equal(5, scored.GetColumn<uint>("PredictedLabel").Count());
        Assert.Equal(2, scorer.Calls); // batch size 4: 4 + 1
    }

    [Fact]
    public void EncodedBytesImagesAndPixelVectorsScoreAlikeInAFullPipeline()
    {
        using TestImageSet images = TestImageSet.Create(6, width: 10, height: 7);
        IDataView data = _ml.Data.LoadFromEnumerable(images.Rows);
        var shared = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.Transforms.LoadRawImageBytes("Bytes", images.Folder, "Path"))
            .Append(_ml.Transforms.LoadImages("Image", images.Folder, "Path"))
            .Append(_ml.Transforms.ResizeImages("Image", images.Width, images.Height))
            .Append(_ml.Transforms.ExtractPixels("Pixels", "Image", scaleImage: 1f / 255));

        var results = new Dictionary<string, List<float[]>>();
        foreach (string column in new[] { "Bytes", "Image", "Pixels" })
        {
            var model = shared
                .Append(new PixelMeanLinearEstimator(_ml, column))
                .Append(_ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"))
                .Fit(data);
            IDataView scored = model.Transform(data);
            Assert.Equal(images.Rows.Select(r => r.Label), scored.GetColumn<string>("PredictedLabelValue"));
            Assert.Equal(1.0, _ml.MulticlassClassification.Evaluate(scored).MicroAccuracy);
            results[column] = ScoreReading.ReadVectors(scored, "Score");
        }

        // The same decoder, so bit-identical; ExtractPixels' scaling rounds differently, so nearly equal.
        Assert.Equal(results["Bytes"].Select(ScoreReading.Bits), results["Image"].Select(ScoreReading.Bits));
        for (int i = 0; i < images.Rows.Count; i++)
        {
            for (int k = 0; k < 3; k++)
            {
                Assert.Equal(results["Image"][i][k], results["Pixels"][i][k], 5);
            }
        }
    }

    [Fact]
    public void PredictionEngineWorksOnAWholeChain()
    {
        using TestImageSet images = TestImageSet.Create(6);
        IDataView data = _ml.Data.LoadFromEnumerable(images.Rows);
        var model = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.Transforms.LoadImages("Image", images.Folder, "Path"))
            .Append(_ml.Transforms.ResizeImages("Image", 4, 4))
            .Append(new PixelMeanLinearEstimator(_ml))
            .Append(_ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"))
            .Fit(data);

        using var engine = _ml.Model.CreatePredictionEngine<ImageRow, ScoredImage>(model);
        foreach (ImageRow row in images.Rows.Reverse())
        {
            ScoredImage prediction = engine.Predict(row);
            Assert.Equal(row.Label, prediction.PredictedLabelValue);
            Assert.Equal(3, prediction.Score.Length);
            Assert.Equal(Array.IndexOf(TestImageSet.ClassNames, row.Label),
                Array.IndexOf(prediction.Score, prediction.Score.Max()));
        }
    }

    [Fact]
    public void ScorerReturningTheWrongShapeIsReported()
    {
        using TestImageSet images = TestImageSet.Create(2);
        IDataView data = _ml.Data.LoadFromEnumerable(images.Rows);
        IDataView loaded = _ml.Transforms.LoadImages("Image", images.Folder, "Path").Fit(data).Transform(data);
        var settings = new ImageScoringSettings("Image", "Score", "PredictedLabel", 4,
            new MLNet.PromptTuning.Data.ImageInputSpec());
        var core = new ImageScoringCore(_ml, settings, ClassLabels.WithoutValues(5),
            new PixelMeanLinearScorer(3, 3, new float[9], new float[3]));

        var e = Assert.Throws<InvalidOperationException>(() =>
            core.Transform(loaded).GetColumn<uint>("PredictedLabel").ToList());
        Assert.Equal("The scorer returned logits of shape [2, 3] for 2 images; expected [2, 5].", e.Message);
    }
}
