using MLNet.PromptTuning.Benchmarks.Datasets;
using Xunit;

namespace MLNet.PromptTuning.Benchmarks.Tests.Datasets;

public sealed class VtabSplitTests : IDisposable
{
    private readonly TinyBenchmarkLayout _layout = new();

    public void Dispose() => _layout.Dispose();

    [Fact]
    public void Reads_the_four_lists_with_full_paths_labels_and_the_catalogued_task()
    {
        var dir = _layout.AddVtabTask("dtd", classes: 3, trainPerClass: 4, valPerClass: 2, testPerClass: 3);

        var split = VtabSplit.Read(dir);

        Assert.Equal("dtd", split.Name);
        Assert.Equal(VtabGroup.Natural, split.Task!.Group);
        Assert.Equal(47, split.NumberOfClasses); // the catalogue's count, not the labels seen
        Assert.Equal(12, split.Train800.Count);
        Assert.Equal(6, split.Val200.Count);
        Assert.Equal(18, split.Train800Val200.Count);
        Assert.Equal(9, split.Test.Count);
        Assert.True(split.HasTuningSplits);
        Assert.Equal(Path.GetFullPath(Path.Combine(dir, "images", "train800", "000000.png")), split.Train800[0].Path);
        Assert.Equal(new[] { 0, 1, 2, 0 }, split.Train800.Take(4).Select(f => f.Label));
        Assert.All(split.Test, f => Assert.True(File.Exists(f.Path)));
        Assert.Equal(split.Train800.Select(f => f.Label).Concat(split.Val200.Select(f => f.Label)),
            split.Train800Val200.Select(f => f.Label));
    }

    [Fact]
    public void An_unknown_folder_takes_its_class_count_from_the_labels_and_aliases_resolve()
    {
        var unknown = VtabSplit.Read(_layout.AddVtabTask("my_task", classes: 5));
        Assert.Null(unknown.Task);
        Assert.Equal(5, unknown.NumberOfClasses);

        var alias = VtabSplit.Read(_layout.AddVtabTask("cifar100", classes: 2));
        Assert.Equal("cifar", alias.Task!.Name);
        Assert.Equal(100, alias.NumberOfClasses);
    }

    [Fact]
    public void Splits_at_the_last_whitespace_skips_blank_lines_and_accepts_crlf_and_tabs()
    {
        var dir = Path.Combine(_layout.Root, "odd");
        Directory.CreateDirectory(Path.Combine(dir, "my images"));
        TinyBenchmarkLayout.WritePng(Path.Combine(dir, "my images", "a b.png"), TinyBenchmarkLayout.Rgba(0, 0));
        TinyBenchmarkLayout.WritePng(Path.Combine(dir, "my images", "c.png"), TinyBenchmarkLayout.Rgba(1, 1));
        File.WriteAllText(Path.Combine(dir, "train800val200.txt"), "my images/a b.png 3\r\n\r\nmy images/c.png\t1\r\n");
        File.WriteAllText(Path.Combine(dir, "test.txt"), "my images/c.png 0\n");

        var split = VtabSplit.Read(dir);

        Assert.Equal(new[] { 3, 1 }, split.Train800Val200.Select(f => f.Label));
        Assert.EndsWith(Path.Combine("my images", "a b.png"), split.Train800Val200[0].Path);
        Assert.False(split.HasTuningSplits);
        Assert.Empty(split.Train800);
        Assert.Equal(4, split.NumberOfClasses);
    }

    [Fact]
    public void A_malformed_line_names_the_file_and_line()
    {
        var dir = _layout.AddVtabTask("dtd", classes: 2);
        File.AppendAllText(Path.Combine(dir, "test.txt"), "images/test/000000.png cat\n");

        var e = Assert.Throws<InvalidDataException>(() => VtabSplit.Read(dir));

        Assert.Contains("test.txt, line 7", e.Message);
        Assert.Contains("'images/test/000000.png cat'", e.Message);
    }

    [Fact]
    public void A_label_beyond_the_catalogued_class_count_is_refused()
    {
        var dir = _layout.AddVtabTask("eurosat", classes: 2);
        File.AppendAllText(Path.Combine(dir, "test.txt"), "images/test/000000.png 10\n");

        var e = Assert.Throws<InvalidDataException>(() => VtabSplit.Read(dir));

        Assert.Contains("label 10 is outside 0..9", e.Message);
    }

    [Fact]
    public void Missing_images_and_missing_lists_are_reported()
    {
        var dir = _layout.AddVtabTask("dtd", classes: 2);
        File.Delete(Path.Combine(dir, "images", "test", "000001.png"));
        File.Delete(Path.Combine(dir, "images", "test", "000003.png"));

        var missing = Assert.Throws<FileNotFoundException>(() => VtabSplit.Read(dir));
        Assert.Contains("2 image(s) listed in", missing.Message);
        Assert.Contains("000001.png' (line 2)", missing.Message);
        Assert.Equal(6, VtabSplit.Read(dir, verifyFiles: false).Test.Count);

        File.Delete(Path.Combine(dir, "test.txt"));
        var list = Assert.Throws<FileNotFoundException>(() => VtabSplit.Read(dir));
        Assert.Contains("has no test.txt", list.Message);
    }

    [Fact]
    public void Task_folders_are_found_in_the_papers_order_then_by_name()
    {
        _layout.AddVtabTask("zz_custom", classes: 2, trainPerClass: 1, valPerClass: 1, testPerClass: 1);
        _layout.AddVtabTask("smallnorb_ele", classes: 2, trainPerClass: 1, valPerClass: 1, testPerClass: 1);
        _layout.AddVtabTask("cifar", classes: 2, trainPerClass: 1, valPerClass: 1, testPerClass: 1);
        Directory.CreateDirectory(Path.Combine(_layout.Root, "not_a_task"));

        var found = VtabSplit.FindTaskDirectories(_layout.Root).Select(Path.GetFileName);

        Assert.Equal(new[] { "cifar", "smallnorb_ele", "zz_custom" }, found);
        Assert.Equal(new[] { Path.Combine(_layout.Root, "cifar") },
            VtabSplit.FindTaskDirectories(Path.Combine(_layout.Root, "cifar")));
    }

    [Fact]
    public void The_catalogue_has_the_19_tasks_in_three_groups()
    {
        Assert.Equal(19, VtabTask.All.Count);
        Assert.Equal(new[] { 7, 4, 8 }, new[] { VtabGroup.Natural, VtabGroup.Specialized, VtabGroup.Structured }
            .Select(g => VtabTask.All.Count(t => t.Group == g)));
        Assert.Equal("oxford_iiit_pet", VtabTask.Find("PETS")!.Name);
        Assert.Null(VtabTask.Find("imagenet"));
    }
}
