using System.Globalization;
using Microsoft.ML.Data;

namespace MLNet.PromptTuning.Samples.Benchmarks;

/// <summary>
/// Writes the scale and e2e benchmarks' image folders once (a folder whose <c>rows.tsv</c> already lists enough images
/// in class folders is reused): Fashion-MNIST training images upscaled to 224×224 RGB JPEG, and photo-sized
/// 3000×2000 RGB JPEGs made from the same images with a colour gradient. Each image goes to the folder of its class
/// (<c>Trouser/00001.jpg</c>; the layout a PyTorch <c>ImageFolder</c> reads), and <c>rows.tsv</c> lists path and
/// label in image order for ML.NET's text loader.
/// </summary>
internal static class ImageFolders
{
    /// <summary>The first <paramref name="count"/> Fashion-MNIST training images as 224×224 JPEGs.</summary>
    public static string WriteFashion(string folder, int count) => Write(folder, count, 224, 224);

    /// <summary><paramref name="count"/> images of 3000×2000 pixels.</summary>
    public static string WriteLarge(string folder, int count) => Write(folder, count, 3000, 2000);

    private static string Write(string folder, int count, int width, int height)
    {
        string rows = Path.Combine(folder, "rows.tsv");
        // Folders written before images went to class folders list bare file names: those are written again.
        if (File.Exists(rows) && File.ReadLines(rows).Count() > count
            && File.ReadLines(rows).Skip(1).FirstOrDefault()?.Contains('/', StringComparison.Ordinal) == true)
        {
            return folder;
        }

        Directory.CreateDirectory(folder);
        var (pixels, labels) = FashionMnist.Load("train");
        if (count > labels.Length)
        {
            throw new ArgumentException($"Fashion-MNIST has {labels.Length} training images; {count} were asked for.");
        }

        foreach (string label in FashionMnist.ClassNames.Select(FolderName))
        {
            Directory.CreateDirectory(Path.Combine(folder, label));
        }

        const int Side = FashionMnist.Side;
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
        {
            var rgba = new byte[width * height * 4];
            for (int y = 0; y < height; y++)
            {
                int sourceRow = y * Side / height;
                for (int x = 0; x < width; x++)
                {
                    byte gray = pixels[(long)i * Side * Side + sourceRow * Side + x * Side / width];
                    int at = (y * width + x) * 4;
                    rgba[at] = gray;
                    rgba[at + 1] = (byte)((gray + 255 * x / width) / 2);
                    rgba[at + 2] = (byte)((gray + 255 * y / height) / 2);
                    rgba[at + 3] = 255;
                }
            }

            using var image = MLImage.CreateFromPixels(width, height, MLPixelFormat.Rgba32, rgba);
            image.Save(Path.Combine(folder, RelativePath(i, labels[i])));
        });

        // Written last and whole, so an interrupted run is redone rather than reused.
        string temporary = rows + ".tmp";
        File.WriteAllLines(temporary, new[] { "Path\tLabel" }.Concat(Enumerable.Range(0, count)
            .Select(i => $"{RelativePath(i, labels[i])}\t{FolderName(FashionMnist.ClassNames[labels[i]])}")));
        File.Move(temporary, rows, overwrite: true);
        return folder;
    }

    /// <summary>The class folder and file name of image <paramref name="index"/>.</summary>
    private static string RelativePath(int index, int label) =>
        FolderName(FashionMnist.ClassNames[label]) + "/" + index.ToString("D5", CultureInfo.InvariantCulture) + ".jpg";

    /// <summary>A class name usable as a folder name ("T-shirt/top" becomes "T-shirt-top"); also the label.</summary>
    private static string FolderName(string className) => className.Replace('/', '-');
}
