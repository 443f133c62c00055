using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Benchmarks.Datasets;
using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Benchmarks.Tests.Datasets;

public sealed class ImageFileLoaderTests : IDisposable
{
    private readonly TinyBenchmarkLayout _layout = new();

    public void Dispose() => _layout.Dispose();

    [Fact]
    public void Decodes_pngs_losslessly_in_list_order_with_their_labels()
    {
        var files = Enumerable.Range(0, 70).Select(i =>
            Write($"img{i}.png", TinyBenchmarkLayout.Rgba(i % 3, i), i % 3)).ToArray();

        using var data = ImageFileLoader.Load(files, channels: 3, height: 8, width: 8);

        Assert.Equal(70, data.Count); // more than one decoding chunk
        Assert.Equal(files.Select(f => (long)f.Label), data.Labels.data<long>().ToArray());
        for (int i = 0; i < files.Length; i += 23)
        {
            Assert.Equal(TinyBenchmarkLayout.Planar(TinyBenchmarkLayout.Rgba(i % 3, i)),
                data.Images[i].data<byte>().ToArray());
        }
    }

    [Fact]
    public void Stretch_converts_exactly_as_the_dataset_builder()
    {
        var rgba = TinyBenchmarkLayout.Rgba(1, 5);
        var file = Write("a.png", rgba, 1);

        using var gray = ImageFileLoader.Load(new[] { file }, channels: 1, height: 5, width: 12);
        using var builder = new ImageTensorDatasetBuilder(1, 1, 5, 12);
        builder.Add(TinyBenchmarkLayout.Planar(rgba), 3, 8, 8, 1);
        using var expected = builder.Build();

        Assert.Equal(expected.Images.data<byte>().ToArray(), gray.Images.data<byte>().ToArray());
    }

    [Fact]
    public void Center_crop_keeps_the_middle_of_the_resized_shorter_side()
    {
        // 8 high, 12 wide; at crop fraction 1 the shorter side stays 8, so the crop is columns 2..9, exactly.
        var rgba = TinyBenchmarkLayout.Rgba(2, 3, width: 12, height: 8);
        var path = Path.Combine(_layout.Root, "wide.png");
        TinyBenchmarkLayout.WritePng(path, rgba, width: 12, height: 8);

        using var data = ImageFileLoader.Load(new[] { new LabeledImageFile(path, 0) }, 3, 8, 8, ImageFit.CenterCrop,
            cropFraction: 1.0);

        using var full = torch.tensor(TinyBenchmarkLayout.Planar(rgba, 12, 8), new long[] { 3, 8, 12 },
            torch.ScalarType.Byte);
        using var middle = full.narrow(2, 2, 8).contiguous();
        Assert.Equal(middle.data<byte>().ToArray(), data.Images[0].data<byte>().ToArray());
    }

    [Fact]
    public void Center_crop_at_0_875_resizes_the_shorter_side_to_size_over_fraction()
    {
        // A 16×8 (h×w) image cropped to 7: shorter side 7 / 0.875 = 8 (unchanged), height 16, rows 4..10 kept.
        var rgba = TinyBenchmarkLayout.Rgba(0, 9, width: 8, height: 16);
        var path = Path.Combine(_layout.Root, "tall.png");
        TinyBenchmarkLayout.WritePng(path, rgba, width: 8, height: 16);

        using var data = ImageFileLoader.Load(new[] { new LabeledImageFile(path, 0) }, 3, 7, 7, ImageFit.CenterCrop);

        using var full = torch.tensor(TinyBenchmarkLayout.Planar(rgba, 8, 16), new long[] { 1, 3, 16, 8 },
            torch.ScalarType.Byte);
        using var scope = torch.NewDisposeScope();
        // The resize to 16×8 is the identity (the library's resize returns same-size images unchanged).
        var expected = full.narrow(2, 4, 7).narrow(3, 0, 7).contiguous(); // w: round(0.5) = 0
        Assert.Equal(expected.data<byte>().ToArray(), data.Images[0].data<byte>().ToArray());
    }

    [Fact]
    public void An_undecodable_file_is_named_and_bad_arguments_are_refused()
    {
        var path = Path.Combine(_layout.Root, "broken.png");
        File.WriteAllText(path, "not an image");

        var e = Assert.Throws<InvalidDataException>(() =>
            ImageFileLoader.Load(new[] { new LabeledImageFile(path, 0) }, 3, 8, 8));
        Assert.Contains("broken.png", e.Message);
        Assert.Throws<ArgumentException>(() =>
            ImageFileLoader.Load(Array.Empty<LabeledImageFile>(), 3, 8, 9, ImageFit.CenterCrop));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            ImageFileLoader.Load(Array.Empty<LabeledImageFile>(), 3, 8, 8, cropFraction: 0));
        using var empty = ImageFileLoader.Load(Array.Empty<LabeledImageFile>(), 3, 8, 8);
        Assert.Equal(0, empty.Count);
    }

    private LabeledImageFile Write(string name, byte[] rgba, int label)
    {
        var path = Path.Combine(_layout.Root, name);
        TinyBenchmarkLayout.WritePng(path, rgba);
        return new LabeledImageFile(path, label);
    }
}
