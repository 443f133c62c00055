using System.Globalization;
using Microsoft.ML.Data;

namespace MLNet.PromptTuning.Samples.Benchmarks;

/// <summary>
/// Writes the scale benchmark's image folders once (a folder whose <c>rows.tsv</c> already lists enough images is
/// reused): Fashion-MNIST training images upscaled to 224×224 RGB JPEG, and photo-sized 3000×2000 RGB JPEGs made
/// from the same images with a colour gradient.
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
        if (File.Exists(rows) && File.ReadLines(rows).Count() > count)
        {
            return folder;
        }

        Directory.CreateDirectory(folder);
        var (pixels, labels) = FashionMnist.Load("train");
        if (count > labels.Length)
        {
            throw new ArgumentException($"Fashion-MNIST has {labels.Length} training images; {count} were asked for.");
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
            image.Save(Path.Combine(folder, Name(i)));
        });

        // Written last and whole, so an interrupted run is redone rather than reused.
        string temporary = rows + ".tmp";
        File.WriteAllLines(temporary, new[] { "Path\tLabel" }.Concat(Enumerable.Range(0, count)
            .Select(i => $"{Name(i)}\t{FashionMnist.ClassNames[labels[i]]}")));
        File.Move(temporary, rows, overwrite: true);
        return folder;
    }

    private static string Name(int index) => index.ToString("D5", CultureInfo.InvariantCulture) + ".jpg";
}
