using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Data;

namespace MLNet.PromptTuning.Benchmarks.Tests.Datasets;

/// <summary>
/// Writes tiny VTAB-1k and FGVC layouts of 8×8 PNGs into a temporary folder at test time. Class k's images are
/// dominated by colour channel k % 3 (so a tiny model can learn them); every image differs.
/// </summary>
internal sealed class TinyBenchmarkLayout : IDisposable
{
    private int _counter;

    public TinyBenchmarkLayout()
    {
        Root = Path.Combine(Path.GetTempPath(), "mlnet-pt-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    /// <summary>The RGBA bytes of the image with this label and running index.</summary>
    public static byte[] Rgba(int label, int index, int width = 8, int height = 8)
    {
        var rgba = new byte[width * height * 4];
        int dominant = label % 3;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int at = (y * width + x) * 4;
                for (int c = 0; c < 3; c++)
                {
                    rgba[at + c] = (byte)(c == dominant
                        ? 170 + (index * 7 + x * 5 + y * 3 + label * 11) % 80
                        : (index * 13 + x * 11 + y * 17 + c * 29) % 80);
                }

                rgba[at + 3] = 255;
            }
        }

        return rgba;
    }

    /// <summary>Planar [3, H, W] RGB of RGBA bytes.</summary>
    public static byte[] Planar(byte[] rgba, int width = 8, int height = 8)
    {
        int n = width * height;
        var planar = new byte[3 * n];
        for (int p = 0; p < n; p++)
        {
            for (int c = 0; c < 3; c++)
            {
                planar[c * n + p] = rgba[p * 4 + c];
            }
        }

        return planar;
    }

    public static void WritePng(string path, byte[] rgba, int width = 8, int height = 8)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var image = MLImage.CreateFromPixels(width, height, MLPixelFormat.Rgba32, rgba);
        image.Save(path);
    }

    /// <summary>
    /// A VTAB-1k task folder: images/&lt;split&gt;/NNNNNN.png and the four list files; train800val200 has its own
    /// copies of the train800 and val200 images, as the real layout does.
    /// </summary>
    public string AddVtabTask(string name, int classes, int trainPerClass = 4, int valPerClass = 2,
        int testPerClass = 3,
        bool withTuningLists = true, string? root = null)
    {
        var task = Path.Combine(root ?? Root, name);
        Directory.CreateDirectory(task);
        var train = WriteSplit(task, "train800", classes, trainPerClass);
        var val = WriteSplit(task, "val200", classes, valPerClass);
        var both = new List<string>();
        int index = 0;
        foreach (var line in train.Concat(val))
        {
            var (relative, label) = Split(line);
            var copy = $"images/train800val200/{index++:D6}.png";
            File.Copy(Path.Combine(task, relative),
                Path.Combine(task, copy.Replace('/', Path.DirectorySeparatorChar)).EnsureDirectory());
            both.Add($"{copy} {label}");
        }

        var test = WriteSplit(task, "test", classes, testPerClass);
        if (withTuningLists)
        {
            File.WriteAllLines(Path.Combine(task, "train800.txt"), train);
            File.WriteAllLines(Path.Combine(task, "val200.txt"), val);
        }

        File.WriteAllLines(Path.Combine(task, "train800val200.txt"), both);
        File.WriteAllLines(Path.Combine(task, "test.txt"), test);
        return task;
    }

    /// <summary>An FGVC dataset folder: json splits keyed by paths relative to <paramref
    /// name="imageSubfolder"/>.</summary>
    public string AddFgvcDataset(string name, int[] classIds, int trainPerClass = 4, int valPerClass = 2,
        int testPerClass = 2,
        string imageSubfolder = "images", bool withValidation = true)
    {
        var dataset = Path.Combine(Root, name);
        var images = imageSubfolder.Length == 0 ? dataset : Path.Combine(dataset, imageSubfolder);
        Directory.CreateDirectory(images);
        Dictionary<string, int> Split(string split, int perClass)
        {
            var entries = new Dictionary<string, int>();
            for (int k = 0; k < classIds.Length; k++)
            {
                for (int i = 0; i < perClass; i++)
                {
                    int index = _counter++;
                    var key = $"{classIds[k]:D3}.class_{classIds[k]}/{split}_{index:D4}.png";
                    WritePng(Path.Combine(images, key), Rgba(k, index));
                    entries[key] = classIds[k];
                }
            }

            return entries;
        }

        File.WriteAllText(Path.Combine(dataset, "train.json"), JsonSerializer.Serialize(Split("train", trainPerClass)));
        if (withValidation)
        {
            File.WriteAllText(Path.Combine(dataset, "val.json"), JsonSerializer.Serialize(Split("val", valPerClass)));
        }

        File.WriteAllText(Path.Combine(dataset, "test.json"), JsonSerializer.Serialize(Split("test", testPerClass)));
        return dataset;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private List<string> WriteSplit(string task, string split, int classes, int perClass)
    {
        var lines = new List<string>();
        int index = 0;
        for (int i = 0; i < perClass; i++)
        {
            for (int label = 0; label < classes; label++)
            {
                var relative = $"images/{split}/{index++:D6}.png";
                WritePng(Path.Combine(task, relative), Rgba(label, _counter++));
                lines.Add($"{relative} {label.ToString(CultureInfo.InvariantCulture)}");
            }
        }

        return lines;
    }

    private static (string Relative, int Label) Split(string line)
    {
        int cut = line.LastIndexOf(' ');
        return (line[..cut], int.Parse(line[(cut + 1)..], CultureInfo.InvariantCulture));
    }
}

internal static class PathExtensions
{
    /// <summary>Creates the file's folder and returns the path.</summary>
    public static string EnsureDirectory(this string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return path;
    }
}
