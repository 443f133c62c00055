using Microsoft.ML.Data;
using MLNet.PromptTuning.Data;
using TorchSharp;

namespace MLNet.PromptTuning.Benchmarks.Datasets;

/// <summary>
/// Decodes image files (JPEG, PNG, BMP, GIF, WebP: what ML.NET's <see cref="MLImage"/> reads) into an
/// <see cref="ImageTensorDataset"/> of one stored size, converting channels and size on the way in with the same
/// 8-bit operations as <see cref="ImagePreprocessor"/> (PIL-style bicubic resize, BT.601 luma). Decoding runs in
/// parallel; the stored tensor takes N·C·H·W bytes.
/// </summary>
public static class ImageFileLoader
{
    private const int DecodeChunk = 64;

    /// <summary>Decodes <paramref name="files"/> into a dataset, in list order.</summary>
    /// <param name="files">The images and their labels.</param>
    /// <param name="channels">Stored channels: 1 or 3.</param>
    /// <param name="height">Stored height in pixels; must be positive.</param>
    /// <param name="width">Stored width in pixels; must be positive (equal to <paramref name="height"/> for <see
    /// cref="ImageFit.CenterCrop"/>).</param>
    /// <param name="fit">How each image is brought to the stored size. Default <see cref="ImageFit.Stretch"/>.</param>
    /// <param name="cropFraction">Fraction of the resized shorter side kept by <see cref="ImageFit.CenterCrop"/>.
    /// Default 0.875; range (0, 1].</param>
    /// <param name="progress">Receives the number of images decoded so far.</param>
    /// <param name="cancellationToken">Checked between chunks of images.</param>
    /// <exception cref="ArgumentException">An argument is out of range.</exception>
    /// <exception cref="InvalidDataException">A file cannot be decoded (names the file).</exception>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    public static ImageTensorDataset Load(
        IReadOnlyList<LabeledImageFile> files, int channels, int height, int width, ImageFit fit = ImageFit.Stretch,
        double cropFraction = 0.875, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (!Enum.IsDefined(fit))
        {
            throw new ArgumentOutOfRangeException(nameof(fit), fit, "Expected Stretch or CenterCrop.");
        }

        if (fit == ImageFit.CenterCrop && height != width)
        {
            throw new ArgumentException(
                $"ImageFit.CenterCrop needs a square stored size; got {height}x{width}. Use ImageFit.Stretch or a " +
                $"square size.",
                nameof(fit));
        }

        if (!(cropFraction > 0 && cropFraction <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(cropFraction), cropFraction,
                "cropFraction must be in (0, 1].");
        }

        using var builder = new ImageTensorDatasetBuilder(files.Count, channels, height, width);
        var decoded = new DecodedImage[Math.Min(DecodeChunk, Math.Max(files.Count, 1))];
        for (int start = 0; start < files.Count; start += DecodeChunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(DecodeChunk, files.Count - start);
            try
            {
                Parallel.For(0, count, new ParallelOptions { CancellationToken = cancellationToken },
                    i => decoded[i] = Decode(files[start + i].Path, channels));
            }
            catch (AggregateException e) when (e.InnerExceptions.Count > 0)
            {
                // Surface the first file's own error (InvalidDataException, FileNotFoundException) to the caller.
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            }

            for (int i = 0; i < count; i++)
            {
                var image = decoded[i];
                int label = files[start + i].Label;
                if (fit == ImageFit.CenterCrop)
                {
                    var cropped = CenterCrop(image, height, cropFraction);
                    builder.Add(cropped, channels, height, width, label);
                }
                else
                {
                    builder.Add(image.Pixels, channels, image.Height, image.Width, label);
                }

                decoded[i] = default;
            }

            progress?.Report(start + count);
        }

        return builder.Build();
    }

    /// <summary>Decodes one file to planar 8-bit pixels [C, H, W] with <paramref name="channels"/> channels.</summary>
    /// <exception cref="InvalidDataException">The file cannot be decoded.</exception>
    public static torch.Tensor Read(string path, int channels = 3)
    {
        var image = Decode(path, channels);
        return torch.tensor(image.Pixels, new long[] { channels, image.Height, image.Width }, torch.ScalarType.Byte);
    }

    private static DecodedImage Decode(string path, int channels)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Image file '{path}' does not exist.", path);
        }

        MLImage image;
        try
        {
            image = MLImage.CreateFromFile(path);
        }
        catch (Exception e) when (e is not OutOfMemoryException and not FileNotFoundException)
        {
            throw new InvalidDataException($"Could not decode '{path}' as an image: {e.Message}", e);
        }

        using (image)
        {
            var planar = MLImagePlanes.ToPlanar(image, channels, p => new InvalidDataException($"'{path}' {p}"));
            return new DecodedImage(planar, image.Height, image.Width);
        }
    }

    /// <summary>torchvision's Resize(shorter side = size / fraction) then CenterCrop(size), on 8-bit planar
    /// pixels.</summary>
    private static byte[] CenterCrop(DecodedImage image, int size, double fraction)
    {
        using var scope = torch.NewDisposeScope();
        int channels = image.Pixels.Length / (image.Height * image.Width);
        int shorter = (int)Math.Floor(size / fraction);
        long h, w;
        if (image.Height <= image.Width)
        {
            (h, w) = (shorter, (long)(shorter * (double)image.Width / image.Height));
        }
        else
        {
            (h, w) = ((long)(shorter * (double)image.Height / image.Width), shorter);
        }

        var x = torch.tensor(image.Pixels, new long[] { 1, channels, image.Height, image.Width }, torch.ScalarType.Byte)
            .to_type(torch.ScalarType.Float32);                                              // [1, C, h0, w0]
        x = ImagePreprocessor.Resize(x, h, w);                                               // [1, C, h, w]
        long top = (long)Math.Round((h - size) / 2.0, MidpointRounding.ToEven);
        long left = (long)Math.Round((w - size) / 2.0, MidpointRounding.ToEven);
        var cropped = x.narrow(2, top, size).narrow(3, left, size).to_type(torch.ScalarType.Byte).contiguous();
        return cropped.data<byte>().ToArray();
    }

    private readonly record struct DecodedImage(byte[] Pixels, int Height, int Width);
}
