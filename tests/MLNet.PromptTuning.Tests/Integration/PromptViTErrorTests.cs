using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Tests.Interop;
using Xunit;

namespace MLNet.PromptTuning.Tests.Integration;

/// <summary>Every user mistake gets an error that names the column or option, the value and what was
/// expected.</summary>
public sealed class PromptViTErrorTests
{
    private sealed class PixelRow
    {
        [VectorType(3 * 8 * 8)]
        public float[] Pixels { get; set; } = Array.Empty<float>();

        public string Label { get; set; } = string.Empty;
    }

    [Fact]
    public void NonKeyLabelNamesTheColumnAndSuggestsMapValueToKey()
    {
        using var fixture = PromptViTFixture.Create(6);
        var ml = new MLContext(seed: 1);
        var rows = fixture.LoadRows(ml);
        var data = ml.Transforms.LoadImages("Image", fixture.Images.Folder, "Path").Fit(rows).Transform(rows);
        var error = Assert.ThrowsAny<ArgumentException>(() =>
            ml.MulticlassClassification.Trainers.PromptViT(fixture.Options()).Fit(data));
        Assert.Contains("'Label'", error.Message);
        Assert.Contains("MapValueToKey", error.Message);
    }

    [Fact]
    public void MissingAndMistypedImageColumnsAreSchemaErrors()
    {
        using var fixture = PromptViTFixture.Create(6);
        var ml = new MLContext(seed: 1);
        var data = PromptViTTrainerTests.Prepare(ml, fixture, fixture.LoadRows(ml));

        var missing = fixture.Options();
        missing.ImageColumnName = "Picture";
        var missingError = Assert.ThrowsAny<ArgumentException>(() =>
            ml.MulticlassClassification.Trainers.PromptViT(missing).Fit(data));
        Assert.Contains("'Picture'", missingError.Message);

        var mistyped = fixture.Options();
        mistyped.ImageColumnName = "Path";
        var typeError = Assert.ThrowsAny<ArgumentException>(() =>
            ml.MulticlassClassification.Trainers.PromptViT(mistyped).Fit(data));
        Assert.Contains("'Path'", typeError.Message);
        Assert.Contains("String", typeError.Message);
    }

    [Fact]
    public void EmptyDataAndSingleClassAreClearErrors()
    {
        using var fixture = PromptViTFixture.Create(6);
        var ml = new MLContext(seed: 1);
        var rows = fixture.LoadRows(ml);
        var prepare = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", fixture.Images.Folder, "Path"))
            .Fit(rows);

        var empty = prepare.Transform(ml.Data.FilterByCustomPredicate<ImageRow>(rows, _ => true));
        var emptyError = Assert.ThrowsAny<ArgumentException>(() =>
            ml.MulticlassClassification.Trainers.PromptViT(fixture.Options()).Fit(empty));
        Assert.Contains("empty", emptyError.Message);

        var single = prepare.Transform(ml.Data.FilterByCustomPredicate<ImageRow>(rows, r => r.Label != "red"));
        var singleError = Assert.ThrowsAny<ArgumentException>(() =>
            ml.MulticlassClassification.Trainers.PromptViT(fixture.Options()).Fit(single));
        Assert.Contains("2 or more classes", singleError.Message);
    }

    [Fact]
    public void UndecodableImageNamesTheRow()
    {
        using var fixture = PromptViTFixture.Create(6);
        File.WriteAllBytes(Path.Combine(fixture.Images.Folder, fixture.Images.Rows[4].Path),
            new byte[] { 1, 2, 3, 4, 5 });
        var ml = new MLContext(seed: 1);
        var rows = fixture.LoadRows(ml);
        var data = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadRawImageBytes("Image", fixture.Images.Folder, "Path"))
            .Fit(rows).Transform(rows);
        var error = Assert.Throws<InvalidDataException>(() =>
            ml.MulticlassClassification.Trainers.PromptViT(fixture.Options()).Fit(data));
        Assert.Contains("Row 4", error.Message);
    }

    [Fact]
    public void NaNPixelsNameTheRow()
    {
        using var fixture = PromptViTFixture.Create(2);
        var ml = new MLContext(seed: 1);
        var pixelRows = Enumerable.Range(0, 4).Select(i => new PixelRow
        {
            Pixels = Enumerable.Range(0, 192).Select(p => i == 2 && p == 7 ? float.NaN : (p * 3 + i) % 256f).ToArray(),
            Label = i % 2 == 0 ? "a" : "b",
        });
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(pixelRows))
            .Transform(ml.Data.LoadFromEnumerable(pixelRows));
        var options = fixture.Options();
        options.ImageColumnName = "Pixels";
        options.PixelVectorShape = new MLNet.PromptTuning.Data.PixelShape(3, 8, 8);
        var error = Assert.Throws<InvalidDataException>(() =>
            ml.MulticlassClassification.Trainers.PromptViT(options).Fit(data));
        Assert.Contains("Row 2", error.Message);
        Assert.Contains("NaN", error.Message);
    }

    [Fact]
    public void BadOptionsNameTheOptionTheValueAndTheRange()
    {
        var ml = new MLContext(seed: 1);
        var noBackbone = Assert.ThrowsAny<ArgumentException>(() =>
            ml.MulticlassClassification.Trainers.PromptViT(new PromptViTTrainer.Options()));
        Assert.Contains("BackbonePath", noBackbone.Message);

        var epochs = Assert.ThrowsAny<ArgumentException>(() =>
            ml.MulticlassClassification.Trainers.PromptViT(new PromptViTTrainer.Options { BackbonePath = "x",
                MaxEpoch = 0 }));
        Assert.Contains("Options.MaxEpoch is 0; expected [1, 100000].", epochs.Message);

        var head = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.PromptViT(
            new PromptViTTrainer.Options { BackbonePath = "x",
                HeadInitialization = (MLNet.PromptTuning.Modeling.HeadInitialization)9 }));
        Assert.Contains("Options.HeadInitialization is 9", head.Message);
        Assert.Contains("VptKaimingFanOut", head.Message);

        var method = Assert.ThrowsAny<ArgumentException>(() =>
            ml.MulticlassClassification.Trainers.PromptViT(new PromptViTTrainer.Options { BackbonePath = "x",
                Method = "lora" }));
        Assert.Contains("'lora'", method.Message);

        using var fixture = PromptViTFixture.Create(6);
        var data = PromptViTTrainerTests.Prepare(ml, fixture, fixture.LoadRows(ml));
        var missingFile = fixture.Options();
        missingFile.BackbonePath = Path.Combine(fixture.Images.Folder, "nope.safetensors");
        var fileError = Assert.Throws<FileNotFoundException>(() =>
            ml.MulticlassClassification.Trainers.PromptViT(missingFile).Fit(data));
        Assert.Contains("nothing is downloaded", fileError.Message);

        var badPrompt = fixture.Options();
        badPrompt.MethodOptions = new MLNet.PromptTuning.Methods.Vpt.VptOptions { PromptLength = 0 };
        var promptError = Assert.ThrowsAny<ArgumentException>(() =>
            ml.MulticlassClassification.Trainers.PromptViT(badPrompt).Fit(data));
        Assert.Contains("PromptLength is 0", promptError.Message);
    }

    [Fact]
    public void WithoutResizingTheImageSizeMustDivideByThePatchSize()
    {
        using var fixture = PromptViTFixture.Create(6);
        var ml = new MLContext(seed: 1);
        var data = PromptViTTrainerTests.Prepare(ml, fixture, fixture.LoadRows(ml));
        var options = fixture.Options(epochs: 1);
        options.ResizeImages = false;
        var error = Assert.ThrowsAny<ArgumentException>(() =>
            ml.MulticlassClassification.Trainers.PromptViT(options).Fit(data));
        Assert.Contains("9x10 is not divisible by the backbone's patch size 4", error.Message);
    }

    [Fact]
    public void WithoutResizingTheBackboneRunsAtTheImagesOwnSize()
    {
        using var fixture = PromptViTFixture.Create(6, width: 12, height: 8);
        var ml = new MLContext(seed: 1);
        var data = PromptViTTrainerTests.Prepare(ml, fixture, fixture.LoadRows(ml));
        var options = fixture.Options(epochs: 1);
        options.ResizeImages = false;
        using var model = ml.MulticlassClassification.Trainers.PromptViT(options).Fit(data);
        Assert.Equal((8, 12), (model.Model.Backbone.Config.ImageHeight, model.Model.Backbone.Config.ImageWidth));
        Assert.Equal(6, ScoreReading.ReadVectors(model.Transform(data), "Score").Count);
    }

    [Fact]
    public void AnUntransformedValidationSetNamesTheOptionTheColumnAndBothTypes()
    {
        using var fixture = PromptViTFixture.Create(6);
        var ml = new MLContext(seed: 1);
        var rows = fixture.LoadRows(ml);
        var data = PromptViTTrainerTests.Prepare(ml, fixture, rows);

        var raw = fixture.Options(epochs: 1);
        raw.ValidationSet = rows;  // the raw rows: a string label and no image column
        var labelError = Assert.ThrowsAny<ArgumentException>(() =>
            ml.MulticlassClassification.Trainers.PromptViT(raw).Fit(data));
        Assert.Equal(nameof(PromptViTTrainer.Options.ValidationSet), labelError.ParamName);
        Assert.StartsWith("Options.ValidationSet must already be transformed", labelError.Message);
        Assert.Contains("The label column 'Label' has type String, but expected a key type", labelError.Message);

        var pathAsImage = fixture.Options(epochs: 1);
        pathAsImage.ValidationSet = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.CopyColumns("Image", "Path")).Fit(rows).Transform(rows);
        var imageError = Assert.ThrowsAny<ArgumentException>(() =>
            ml.MulticlassClassification.Trainers.PromptViT(pathAsImage).Fit(data));
        Assert.Equal(nameof(PromptViTTrainer.Options.ValidationSet), imageError.ParamName);
        Assert.Contains("The image column 'Image' has type String, but expected", imageError.Message);
    }

    [Theory]
    [InlineData("random.safetensors", "is not a valid safetensors file")]
    [InlineData("random.bin", "is not a recognised weights file")]
    public void ARandomBytesBackboneReportsTheRealCauseFirst(string fileName, string cause)
    {
        using var fixture = PromptViTFixture.Create(6);
        var bytes = new byte[4096];
        new Random(11).NextBytes(bytes);
        string path = Path.Combine(fixture.Images.Folder, fileName);
        File.WriteAllBytes(path, bytes);
        var ml = new MLContext(seed: 1);
        var data = PromptViTTrainerTests.Prepare(ml, fixture, fixture.LoadRows(ml));
        var options = fixture.Options(epochs: 1);
        options.BackbonePath = path;

        var error = Assert.ThrowsAny<Exception>(
            () => ml.MulticlassClassification.Trainers.PromptViT(options).Fit(data));
        Assert.True(error.Message.StartsWith($"'{path}' {cause}", StringComparison.Ordinal), error.Message);
        Assert.DoesNotContain("architecture", error.Message);  // not "set Options.BackboneConfig" first
    }
}
