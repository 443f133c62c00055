using Microsoft.ML.Data;

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
        int red, green, blue;
        switch (image.PixelFormat)
        {
            case MLPixelFormat.Bgra32:
                (red, green, blue) = (2, 1, 0);
                break;
            case MLPixelFormat.Rgba32:
                (red, green, blue) = (0, 1, 2);
                break;
            default:
                throw problem($"has pixel format {image.PixelFormat}; expected Bgra32 or Rgba32.");
        }

        int width = image.Width;
        int height = image.Height;
        ReadOnlySpan<byte> pixels = image.Pixels;
        int pixelCount = checked(width * height);
        if (width <= 0 || height <= 0 || image.BitsPerPixel != 32 || pixels.Length != pixelCount * 4)
        {
            throw problem($"holds a {width}x{height} image with {image.BitsPerPixel} bits per pixel and " +
                          $"{pixels.Length} bytes of pixels; expected a non-empty 32-bit image without row padding.");
        }

        var planar = new byte[channels * pixelCount];
        PixelConversion.InterleavedToPlanar(pixels, pixelCount, 4, red, green, blue, channels, planar);
        return planar;
    }
}
