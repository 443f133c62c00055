using System.IO.Compression;

namespace MLNet.PromptTuning.Samples;

/// <summary>
/// Reads Fashion-MNIST from the IDX files of Debian's <c>dataset-fashion-mnist</c> package (MIT, © 2017 Zalando SE):
/// 28×28 grayscale images, 10 balanced classes.
/// </summary>
public static class FashionMnist
{
    /// <summary>Where Debian's package installs the files.</summary>
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Class names in label order.</summary>
    public static readonly string[] ClassNames =
    {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    };

    /// <summary>Image side in pixels.</summary>
    public const int Side = 28;

    /// <summary>Loads a split: <c>train</c> (60,000 images) or <c>t10k</c> (10,000).</summary>
    public static (byte[] Pixels, byte[] Labels) Load(string split, string directory = DebianDirectory)
    {
        string images = Path.Combine(directory, $"{split}-images-idx3-ubyte.gz");
        string labels = Path.Combine(directory, $"{split}-labels-idx1-ubyte.gz");
        if (!File.Exists(images) || !File.Exists(labels))
        {
            throw new FileNotFoundException(
                $"Fashion-MNIST '{split}' files were not found in {directory}. Install them with " +
                "'apt-get install dataset-fashion-mnist' or pass the folder that holds the IDX .gz files.", images);
        }

        byte[] pixelFile = ReadGzip(images);
        byte[] labelFile = ReadGzip(labels);
        Expect(pixelFile, 0x00000803, images);
        Expect(labelFile, 0x00000801, labels);
        int count = BigEndian(labelFile, 4);
        if (BigEndian(pixelFile, 4) != count || BigEndian(pixelFile, 8) != Side || BigEndian(pixelFile, 12) != Side)
        {
            throw new InvalidDataException($"{images} does not hold {count} images of {Side}x{Side}.");
        }

        return (pixelFile.AsSpan(16, count * Side * Side).ToArray(), labelFile.AsSpan(8, count).ToArray());
    }

    /// <summary>
    /// Takes the first <paramref name="perClass"/> images of each class in <paramref name="classes"/>, in file order
    /// (0 takes them all), after skipping the first <paramref name="skipPerClass"/> of each class, and relabels them
    /// 0..classes.Count-1 in the order given.
    /// </summary>
    /// <returns>Pixels (N·784 bytes), new labels, and each image's index in the split.</returns>
    public static (byte[] Pixels, long[] Labels, int[] Indices) Select(
        byte[] pixels, byte[] labels, IReadOnlyList<int> classes, int perClass = 0, int skipPerClass = 0)
    {
        var seen = new int[10];
        var taken = new int[10];
        var indices = new List<int>();
        for (int i = 0; i < labels.Length; i++)
        {
            if (IndexOf(classes, labels[i]) < 0 || seen[labels[i]]++ < skipPerClass)
            {
                continue;
            }

            if (perClass <= 0 || taken[labels[i]] < perClass)
            {
                taken[labels[i]]++;
                indices.Add(i);
            }
        }

        const int ImageBytes = Side * Side;
        var selected = new byte[indices.Count * ImageBytes];
        var newLabels = new long[indices.Count];
        for (int j = 0; j < indices.Count; j++)
        {
            Array.Copy(pixels, (long)indices[j] * ImageBytes, selected, (long)j * ImageBytes, ImageBytes);
            newLabels[j] = IndexOf(classes, labels[indices[j]]);
        }

        return (selected, newLabels, indices.ToArray());
    }

    private static int IndexOf(IReadOnlyList<int> classes, int label)
    {
        for (int k = 0; k < classes.Count; k++)
        {
            if (classes[k] == label)
            {
                return k;
            }
        }

        return -1;
    }

    private static byte[] ReadGzip(string path)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var memory = new MemoryStream();
        gzip.CopyTo(memory);
        return memory.ToArray();
    }

    private static void Expect(byte[] data, int magic, string path)
    {
        if (data.Length < 8 || BigEndian(data, 0) != magic)
        {
            throw new InvalidDataException($"{path} is not an IDX file with magic 0x{magic:X8}.");
        }
    }

    private static int BigEndian(byte[] data, int offset) =>
        (data[offset] << 24) | (data[offset + 1] << 16) | (data[offset + 2] << 8) | data[offset + 3];
}
