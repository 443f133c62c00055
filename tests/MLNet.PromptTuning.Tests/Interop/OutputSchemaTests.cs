using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Interop;
using Xunit;

namespace MLNet.PromptTuning.Tests.Interop;

public sealed class OutputSchemaTests
{
    private sealed class FeatureRow
    {
        [VectorType(3)]
        public float[] Features { get; set; } = Array.Empty<float>();

        public string Label { get; set; } = string.Empty;
    }

    private sealed class IntLabelRow
    {
        public string Path { get; set; } = string.Empty;

        public int Label { get; set; }
    }

    [Fact]
    public void OutputColumnsMatchANativeMulticlassTrainerExactly()
    {
        var ml = new MLContext(seed: 1);
        FeatureRow[] featureRows = Enumerable.Range(0, 12).Select(i => new FeatureRow
        {
            Features = new[] { i % 3 == 0 ? 1f : 0f, i % 3 == 1 ? 1f : 0f, i % 3 == 2 ? 1f : 0f },
            Label = TestImageSet.ClassNames[i % 3],
        }).ToArray();
        IDataView features = ml.Data.LoadFromEnumerable(featureRows);
        var nativePipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(maximumNumberOfIterations: 3));
        DataViewSchema native = nativePipeline.Fit(features).Transform(features).Schema;

        using TestImageSet images = TestImageSet.Create(6);
        IDataView imageData = ml.Data.LoadFromEnumerable(images.Rows);
        var ourPipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", images.Folder, "Path"))
            .Append(new PixelMeanLinearEstimator(ml));
        DataViewSchema ours = ourPipeline.Fit(imageData).Transform(imageData).Schema;

        foreach (string name in new[] { "Score", "PredictedLabel" })
        {
            Assert.Equal(native[name].Type, ours[name].Type);
            Assert.Equal(AnnotationText.Describe(native[name]), AnnotationText.Describe(ours[name]));
        }

        // The contract spelled out, so a change on either side is visible here.
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 3), ours["Score"].Type);
        Assert.Equal(new[]
        {
            "ScoreColumnKind: String = MulticlassClassification",
            "ScoreColumnSetId: Key<UInt32, 0-2147483646> = 1",
            "ScoreValueKind: String = Score",
            "TrainingLabelValues: Vector<String, 3> = [red, green, blue]",
            "SlotNames: Vector<String, 3> = [red, green, blue]",
        }, AnnotationText.Describe(ours["Score"]));
        Assert.Equal(new KeyDataViewType(typeof(uint), 3), ours["PredictedLabel"].Type);
        Assert.Equal(new[]
        {
            "ScoreColumnKind: String = MulticlassClassification",
            "ScoreValueKind: String = PredictedLabel",
            "KeyValues: Vector<String, 3> = [red, green, blue]",
            "ScoreColumnSetId: Key<UInt32, 0-2147483646> = 1",
        }, AnnotationText.Describe(ours["PredictedLabel"]));

        // The estimator side (EstimatorChain.Fit asks it first) declares what a native trainer declares.
        SchemaShape nativeShape = nativePipeline.GetOutputSchema(SchemaChecks.ToShape(features.Schema));
        SchemaShape ourShape = ourPipeline.GetOutputSchema(SchemaChecks.ToShape(imageData.Schema));
        foreach (string name in new[] { "Score", "PredictedLabel" })
        {
            SchemaShape.Column expected = nativeShape.Single(c => c.Name == name);
            SchemaShape.Column actual = ourShape.Single(c => c.Name == name);
            Assert.Equal(expected.Kind, actual.Kind);
            Assert.Equal(expected.ItemType, actual.ItemType);
            Assert.Equal(expected.IsKey, actual.IsKey);
            Assert.Equal(expected.Annotations.Select(a => $"{a.Name}:{a.Kind}:{a.ItemType}"),
                actual.Annotations.Select(a => $"{a.Name}:{a.Kind}:{a.ItemType}"));
        }
    }

    [Fact]
    public void NonTextKeyValuesAreCopiedAndMapBack()
    {
        var ml = new MLContext(seed: 1);
        using TestImageSet images = TestImageSet.Create(6);
        int[] codes = { 30, 70, 90 };
        IntLabelRow[] rows = images.Rows.Select((r, i) =>
            new IntLabelRow { Path = r.Path, Label = codes[i % 3] }).ToArray();
        IDataView data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", images.Folder, "Path"))
            .Append(new PixelMeanLinearEstimator(ml))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedCode", "PredictedLabel"))
            .Fit(data);
        IDataView scored = model.Transform(data);

        Assert.Equal("KeyValues: Vector<Int32, 3> = [30, 70, 90]",
            AnnotationText.Describe(scored.Schema["PredictedLabel"])[2]);
        Assert.Contains("SlotNames: Vector<String, 3> = [30, 70, 90]", AnnotationText.Describe(scored.Schema["Score"]));
        Assert.Contains("TrainingLabelValues: Vector<Int32, 3> = [30, 70, 90]",
            AnnotationText.Describe(scored.Schema["Score"]));
        Assert.Equal(NumberDataViewType.Int32, scored.Schema["PredictedCode"].Type);
        Assert.Equal(rows.Select(r => r.Label), scored.GetColumn<int>("PredictedCode"));
    }

    [Fact]
    public void EvaluateAndMapKeyToValueWorkOnTheOutput()
    {
        var ml = new MLContext(seed: 1);
        using TestImageSet images = TestImageSet.Create(9);
        IDataView data = ml.Data.LoadFromEnumerable(images.Rows);
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", images.Folder, "Path"))
            .Append(new PixelMeanLinearEstimator(ml))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"))
            .Fit(data);
        IDataView scored = model.Transform(data);

        MulticlassClassificationMetrics metrics = ml.MulticlassClassification.Evaluate(scored);
        Assert.Equal(1.0, metrics.MicroAccuracy);
        Assert.Equal(1.0, metrics.MacroAccuracy);
        Assert.True(metrics.LogLoss > 0 && double.IsFinite(metrics.LogLoss), $"LogLoss {metrics.LogLoss}");
        Assert.Equal(3, metrics.ConfusionMatrix.NumberOfClasses);
        Assert.Equal(images.Rows.Select(r => r.Label), scored.GetColumn<string>("PredictedLabelValue"));

        foreach (float[] probabilities in ScoreReading.ReadVectors(scored, "Score"))
        {
            Assert.Equal(1.0, probabilities.Sum(), 5);
            Assert.All(probabilities, p => Assert.InRange(p, 0f, 1f));
        }
    }

    [Fact]
    public void SameNamedInputColumnsAreHiddenAndScoreSetIdsIncrease()
    {
        var ml = new MLContext(seed: 1);
        using TestImageSet images = TestImageSet.Create(3);
        var classes = ClassLabels.FromValues(TextDataViewType.Instance,
            TestImageSet.ClassNames.Select(n => n.AsMemory()).ToArray());
        IDataView loaded = ml.Transforms.LoadImages("Image", images.Folder, "Path")
            .Fit(ml.Data.LoadFromEnumerable(images.Rows)).Transform(ml.Data.LoadFromEnumerable(images.Rows));

        PixelMeanLinearTransformer first = PixelMeanLinearEstimator.Create(ml, classes);
        PixelMeanLinearTransformer second = PixelMeanLinearEstimator.Create(ml, classes);
        IDataView once = first.Transform(loaded);
        IDataView twice = second.Transform(once);

        Assert.Equal(2, twice.Schema.Count(c => c.Name == "Score"));
        Assert.True(twice.Schema.Single(c => c.Name == "Score" && c.Index == once.Schema["Score"].Index).IsHidden);
        Assert.False(twice.Schema["Score"].IsHidden);
        Assert.Equal("1", ScoreSetId(once.Schema["Score"]));
        Assert.Equal("2", ScoreSetId(twice.Schema["Score"]));
        Assert.Equal("2", ScoreSetId(twice.Schema["PredictedLabel"]));
        Assert.Equal(ScoreReading.ReadVectors(once, "Score").Select(ScoreReading.Bits),
            ScoreReading.ReadVectors(twice, "Score").Select(ScoreReading.Bits));
    }

    [Fact]
    public void ClassesWithoutKeyValuesOmitTheLabelAnnotationsLikeNativeTrainers()
    {
        var ml = new MLContext(seed: 1);
        using TestImageSet images = TestImageSet.Create(3);
        IDataView loaded = ml.Transforms.LoadImages("Image", images.Folder, "Path")
            .Fit(ml.Data.LoadFromEnumerable(images.Rows)).Transform(ml.Data.LoadFromEnumerable(images.Rows));

        DataViewSchema schema = PixelMeanLinearEstimator.Create(ml,
            ClassLabels.WithoutValues(3)).GetOutputSchema(loaded.Schema);

        Assert.Equal(new[] { "ScoreColumnKind", "ScoreColumnSetId", "ScoreValueKind" },
            schema["Score"].Annotations.Schema.Select(a => a.Name));
        Assert.Equal(new[] { "ScoreColumnKind", "ScoreValueKind", "ScoreColumnSetId" },
            schema["PredictedLabel"].Annotations.Schema.Select(a => a.Name));
        Assert.Equal(new KeyDataViewType(typeof(uint), 3), schema["PredictedLabel"].Type);
    }

    private static string ScoreSetId(DataViewSchema.Column column) =>
        AnnotationText.Value(column.Annotations, column.Annotations.Schema["ScoreColumnSetId"]);
}
