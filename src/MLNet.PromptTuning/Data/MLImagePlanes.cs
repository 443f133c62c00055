using Microsoft.ML.Data;
using TorchSharp;

namespace MLNet.PromptTuning.Data;

/// <summary>Reads the pixels of a decoded <see cref="MLImage"/> into channel-planar bytes.</summary>
internal static class MLImagePlanes
{
    /// <summary>
    /// Planar [C, H, W] bytes with <paramref name="channels"/> channels (3: RGB, 1: luma) from a BGRA32 or RGBA32
    /// image, which is what ML.NET's SkiaSharp decoder yields.
    /// </summary>
    /// <param name="image">The decoded image.</param>
    /// <param name="channels">1 or 3.</param>
    /// <param name="problem">Builds the exception for an image in another layout from a phrase such as
    /// "has pixel format Gray8; expected Bgra32 or Rgba32."; the caller prefixes what the image is.</param>
    public static byte[] ToPlanar(MLImage image, int channels, Func<string, Exception> problem)
    {
        var (red, green, blue) = ChannelOffsets(image, problem);
        int pixelCount = image.Width * image.Height;
        var planar = new byte[channels * pixelCount];
        PixelConversion.InterleavedToPlanar(image.Pixels, pixelCount, 4, red, green, blue, channels, planar);
        return planar;
    }

    /// <summary>
    /// The same planes as <see cref="ToPlanar"/>, written straight into a new uint8 tensor [C, H, W] in the current
    /// dispose scope: no managed copy, which for a photo would be a large-object-heap array (18 MB at 3000×2000)
    /// left for the next full garbage collection.
    /// </summary>
    /// <param name="image">The decoded image.</param>
    /// <param name="channels">1 or 3.</param>
    /// <param name="problem">As for <see cref="ToPlanar"/>.</param>
    public static torch.Tensor ToPlanarTensor(MLImage image, int channels, Func<string, Exception> problem)
    {
        var (red, green, blue) = ChannelOffsets(image, problem);
        int pixelCount = image.Width * image.Height;
        var planar = torch.empty(new long[] { channels, image.Height, image.Width }, torch.ScalarType.Byte);
        PixelConversion.InterleavedToPlanar(image.Pixels, pixelCount, 4, red, green, blue, channels, planar.bytes);
        return planar;
    }

    /// <summary>Whether the image has colour: some pixel whose red, green and blue are not all equal.</summary>
    /// <param name="image">The decoded image.</param>
    /// <param name="problem">As for <see cref="ToPlanar"/>.</param>
    public static bool HasColor(MLImage image, Func<string, Exception> problem)
    {
        var (red, green, blue) = ChannelOffsets(image, problem);
        return PixelConversion.HasColor(image.Pixels, image.Width * image.Height, 4, red, green, blue);
    }

    /// <summary>Byte offsets of red, green and blue inside a pixel, after checking the image's layout.</summary>
    private static (int Red, int Green, int Blue) ChannelOffsets(MLImage image, Func<string, Exception> problem)
    {
        (int red, int green, int blue) = image.PixelFormat switch
        {
            MLPixelFormat.Bgra32 => (2, 1, 0),
            MLPixelFormat.Rgba32 => (0, 1, 2),
            _ => throw problem($"has pixel format {image.PixelFormat}; expected Bgra32 or Rgba32."),
        };

        int width = image.Width;
        int height = image.Height;
        int pixelBytes = image.Pixels.Length;
        if (width <= 0 || height <= 0 || image.BitsPerPixel != 32 || pixelBytes != checked(width * height) * 4)
        {
            throw problem($"holds a {width}x{height} image with {image.BitsPerPixel} bits per pixel and " +
                          $"{pixelBytes} bytes of pixels; expected a non-empty 32-bit image without row padding.");
        }

        return (red, green, blue);
    }
}
