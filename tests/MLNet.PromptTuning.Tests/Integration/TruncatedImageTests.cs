using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Tests.Interop;
using Xunit;

namespace MLNet.PromptTuning.Tests.Integration;

/// <summary>
/// A PNG or JPEG cut short (an interrupted copy or download) decodes without error in SkiaSharp, as an image whose
/// missing part is blank; training and scoring must refuse it instead, naming the row.
/// </summary>
public sealed class TruncatedImageTests
{
    private const int Damaged = 5;

    public static TheoryData<string, bool> Cases => new()
    {
        { ".png", true }, { ".png", false }, { ".jpg", true }, { ".jpg", false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void TrainingRefusesAFileCutToHalfItsBytes(string extension, bool encodedBytes)
    {
        using var fixture = PromptViTFixture.Create();
        var ml = new MLContext(seed: 1);
        var data = WithDamagedFile(fixture, ml, extension, keepIntact: false);

        var error = Assert.Throws<InvalidDataException>(() => Pipeline(ml, fixture, encodedBytes).Fit(data));
        Assert.Contains($"Row {Damaged} of image column 'Image'", error.Message);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ScoringRefusesAFileCutToHalfItsBytes(string extension, bool encodedBytes)
    {
        using var fixture = PromptViTFixture.Create();
        var ml = new MLContext(seed: 1);
        var data = WithDamagedFile(fixture, ml, extension, keepIntact: true);
        var model = Pipeline(ml, fixture, encodedBytes).Fit(data);
        Truncate(Path.Combine(fixture.Images.Folder, fixture.Images.Rows[Damaged].Path));

        var error = Assert.Throws<InvalidDataException>(() =>
            ScoreReading.ReadVectors(model.Transform(data), "Score").ToList());
        Assert.Contains($"Row {Damaged} of image column 'Image'", error.Message);
    }

    private static IEstimator<ITransformer> Pipeline(MLContext ml, PromptViTFixture fixture, bool encodedBytes) =>
        ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(encodedBytes
                ? ml.Transforms.LoadRawImageBytes("Image", fixture.Images.Folder, "Path")
                : ml.Transforms.LoadImages("Image", fixture.Images.Folder, "Path"))
            .Append(ml.MulticlassClassification.Trainers.PromptViT(fixture.Options(epochs: 1)));

    /// <summary>Rewrites image <see cref="Damaged"/> in <paramref name="extension"/>'s format, cut to half its bytes
    /// unless <paramref name="keepIntact"/>, and points its row at it.</summary>
    private static IDataView WithDamagedFile(PromptViTFixture fixture, MLContext ml, string extension,
        bool keepIntact)
    {
        var images = fixture.Images;
        var name = $"damaged{extension}";
        var path = Path.Combine(images.Folder, name);
        using (var image = MLImage.CreateFromPixels(images.Width, images.Height, MLPixelFormat.Rgba32,
                   images.Rgba[Damaged]))
        {
            image.Save(path);
        }

        if (!keepIntact)
        {
            Truncate(path);
        }

        images.Rows[Damaged].Path = name;
        return fixture.LoadRows(ml);
    }

    private static void Truncate(string path)
    {
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
    }
}
