using System.Globalization;

namespace MLNet.PromptTuning.Samples.Pretrain;

/// <summary>
/// Writes the downstream image set: Fashion-MNIST classes 5-9, which the embedded backbone never saw, as PNG files
/// in class folders (<c>train/&lt;class&gt;/NNNNN.png</c> from the train split, <c>test/&lt;class&gt;/NNNNN.png</c>
/// from t10k, where NNNNN is the image's index in its split file).
/// </summary>
internal static class UnseenExport
{
    /// <summary>The classes of the downstream set, in label order.</summary>
    public static readonly int[] Classes = { 5, 6, 7, 8, 9 };

    public static void Run(string dataDirectory, string outputDirectory, int trainPerClass, int testPerClass)
    {
        int total = 0;
        foreach (var (split, folder, perClass) in new[] { ("train", "train", trainPerClass),
            ("t10k", "test", testPerClass) })
        {
            var (pixels, labels) = FashionMnist.Load(split, dataDirectory);
            var selected = FashionMnist.Select(pixels, labels, Classes, perClass);
            string root = Path.Combine(outputDirectory, folder);
            if (Directory.Exists(root))
            {
                // Start clean so a smaller count never leaves stale files behind.
                Directory.Delete(root, recursive: true);
            }

            const int ImageBytes = FashionMnist.Side * FashionMnist.Side;
            for (int j = 0; j < selected.Indices.Length; j++)
            {
                string className = FashionMnist.ClassNames[Classes[selected.Labels[j]]];
                string classFolder = Path.Combine(root, className);
                Directory.CreateDirectory(classFolder);
                var png = PngWriter.EncodeGray8(
                    selected.Pixels.AsSpan(j * ImageBytes, ImageBytes), FashionMnist.Side, FashionMnist.Side);
                string name = selected.Indices[j].ToString("D5", CultureInfo.InvariantCulture) + ".png";
                File.WriteAllBytes(Path.Combine(classFolder, name), png);
            }

            total += selected.Indices.Length;
            foreach (int c in Classes)
            {
                var indices = selected.Indices.Where(i => labels[i] == c).ToArray();
                Console.WriteLine(FormattableString.Invariant(
                    $"{folder}/{FashionMnist.ClassNames[c]}: {indices.Length} images, {split} indices ") +
                    FormattableString.Invariant($"{indices.First()}..{indices.Last()}"));
            }
        }

        long bytes = Directory.EnumerateFiles(outputDirectory, "*.png", SearchOption.AllDirectories).Sum(f =>
            new FileInfo(f).Length);
        Console.WriteLine(
            FormattableString.Invariant($"Wrote {total} PNG files ({bytes / 1024.0:F0} KB) under {outputDirectory}."));
    }
}
