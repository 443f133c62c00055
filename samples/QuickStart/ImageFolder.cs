namespace MLNet.PromptTuning.Samples.QuickStart;

/// <summary>One image file and its class, read from a folder of class folders.</summary>
public sealed class ImageFile
{
    /// <summary>Path relative to the data folder.</summary>
    public string Path { get; set; } = string.Empty;

    /// <summary>Class name (the image's folder name).</summary>
    public string Label { get; set; } = string.Empty;
}

/// <summary>
/// Reads <c>root/train/&lt;class&gt;/*</c> and <c>root/test/&lt;class&gt;/*</c>; a root without those two folders is
/// read as <c>root/&lt;class&gt;/*</c> and split 80/20 per class with a fixed seed.
/// </summary>
public static class ImageFolder
{
    private static readonly string[] Extensions = { ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp" };

    public static (List<ImageFile> Train, List<ImageFile> Test) Read(string root)
    {
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"The image folder '{root}' does not exist.");
        }

        string train = System.IO.Path.Combine(root, "train");
        string test = System.IO.Path.Combine(root, "test");
        if (Directory.Exists(train) && Directory.Exists(test))
        {
            return (List(root, train), List(root, test));
        }

        var all = List(root, root);
        var random = new Random(42);
        var trainRows = new List<ImageFile>();
        var testRows = new List<ImageFile>();
        foreach (var group in all.GroupBy(r => r.Label))
        {
            var shuffled = group.OrderBy(_ => random.Next()).ToList();
            int testCount = Math.Max(1, shuffled.Count / 5);
            testRows.AddRange(shuffled.Take(testCount));
            trainRows.AddRange(shuffled.Skip(testCount));
        }

        return (trainRows, testRows);
    }

    private static List<ImageFile> List(string root, string folder)
    {
        var rows = Directory.GetDirectories(folder)
            .OrderBy(d => d, StringComparer.Ordinal)
            .SelectMany(classFolder => Directory.GetFiles(classFolder)
                .Where(f => Extensions.Contains(System.IO.Path.GetExtension(f).ToLowerInvariant()))
                .OrderBy(f => f, StringComparer.Ordinal)
                .Select(f => new ImageFile
                {
                    Path = System.IO.Path.GetRelativePath(root, f),
                    Label = System.IO.Path.GetFileName(classFolder),
                }))
            .ToList();
        if (rows.Count == 0)
        {
            throw new InvalidDataException(
                $"No images were found under '{folder}' (expected class folders of image files).");
        }

        return rows;
    }
}
