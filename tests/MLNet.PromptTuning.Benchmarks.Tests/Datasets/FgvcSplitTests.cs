using MLNet.PromptTuning.Benchmarks.Datasets;
using Xunit;

namespace MLNet.PromptTuning.Benchmarks.Tests.Datasets;

public sealed class FgvcSplitTests : IDisposable
{
    private readonly TinyBenchmarkLayout _layout = new();

    public void Dispose() => _layout.Dispose();

    [Fact]
    public void Maps_sorted_class_ids_to_contiguous_labels_and_finds_the_images_folder()
    {
        var dir = _layout.AddFgvcDataset("CUB_200_2011", new[] { 7, 1, 4 }, trainPerClass: 3, valPerClass: 1,
            testPerClass: 2);

        var split = FgvcSplit.Read(dir);

        Assert.Equal("CUB_200_2011", split.Name);
        Assert.Equal(new[] { 1, 4, 7 }, split.ClassIds);
        Assert.Equal(3, split.NumberOfClasses);
        Assert.Equal(Path.GetFullPath(Path.Combine(dir, "images")), split.ImageDirectory);
        Assert.Equal(9, split.Train.Count);
        Assert.Equal(3, split.Validation.Count);
        Assert.Equal(6, split.Test.Count);
        // The layout writes class id 7 first: its label is 2 (ids sorted), then id 1 → 0, id 4 → 1.
        Assert.Equal(new[] { 2, 2, 2, 0, 0, 0, 1, 1, 1 }, split.Train.Select(f => f.Label));
        Assert.StartsWith(Path.Combine(split.ImageDirectory, "007.class_7"), split.Train[0].Path);
        Assert.All(split.Test, f => Assert.True(File.Exists(f.Path)));
    }

    [Theory]
    [InlineData("Images")]
    [InlineData("")]
    public void The_image_folder_may_be_Images_or_the_dataset_folder(string subfolder)
    {
        var dir = _layout.AddFgvcDataset("set" + subfolder, new[] { 0, 1 }, imageSubfolder: subfolder);

        var split = FgvcSplit.Read(dir);

        Assert.Equal(Path.GetFullPath(subfolder.Length == 0 ? dir : Path.Combine(dir, subfolder)),
            split.ImageDirectory);
    }

    [Fact]
    public void An_explicit_image_folder_and_an_absent_validation_split_are_accepted()
    {
        var dir = _layout.AddFgvcDataset("OxfordFlower", new[] { 1, 2 }, imageSubfolder: "jpg_root",
            withValidation: false);

        var split = FgvcSplit.Read(dir, imageDirectory: "jpg_root");

        Assert.Empty(split.Validation);
        Assert.Equal(8, split.Train.Count);
        var e = Assert.Throws<FileNotFoundException>(() => FgvcSplit.Read(dir));
        Assert.Contains("Cannot find '001.class_1/train_", e.Message);
    }

    [Fact]
    public void Bad_json_values_and_missing_files_are_reported()
    {
        var dir = _layout.AddFgvcDataset("dogs", new[] { 0, 1 });
        File.WriteAllText(Path.Combine(dir, "test.json"), "{\"000.class_0/x.png\": \"zero\"}");
        var bad = Assert.Throws<InvalidDataException>(() => FgvcSplit.Read(dir));
        Assert.Contains("class id of '000.class_0/x.png' must be a non-negative integer; got \"zero\"", bad.Message);

        File.WriteAllText(Path.Combine(dir, "test.json"), "[1, 2]");
        Assert.Contains("must be a JSON object",
            Assert.Throws<InvalidDataException>(() => FgvcSplit.Read(dir)).Message);

        File.WriteAllText(Path.Combine(dir, "test.json"), "{\"000.class_0/missing.png\": 0}");
        var missing = Assert.Throws<FileNotFoundException>(() => FgvcSplit.Read(dir));
        Assert.Contains("1 image(s) listed in", missing.Message);

        File.Delete(Path.Combine(dir, "train.json"));
        Assert.Contains("has no train.json", Assert.Throws<FileNotFoundException>(() => FgvcSplit.Read(dir)).Message);
    }

    [Fact]
    public void Dataset_folders_are_found_under_a_root()
    {
        _layout.AddFgvcDataset("b_set", new[] { 0, 1 }, 1, 1, 1);
        _layout.AddFgvcDataset("a_set", new[] { 0, 1 }, 1, 1, 1);

        Assert.Equal(new[] { "a_set", "b_set" },
            FgvcSplit.FindDatasetDirectories(_layout.Root).Select(Path.GetFileName));
    }
}
