namespace MLNet.PromptTuning.Data;

/// <summary>
/// Pixel layout conversions to channel-planar [C, H, W] buffers. Pure functions over spans; they know nothing of
/// ML.NET or TorchSharp.
/// </summary>
internal static class PixelConversion
{
    /// <summary>
    /// 8-bit luma with ITU-R 601 weights in 16-bit fixed point, rounded: the formula PIL's <c>convert("L")</c>
    /// uses, so grayscale inputs match what timm-style Python pipelines feed a 1-channel model.
    /// </summary>
    public static byte Luma(byte r, byte g, byte b) => (byte)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);

    /// <summary>Luma of float pixels with the same weights (0.299, 0.587, 0.114).</summary>
    public static float Luma(float r, float g, float b) => 0.299f * r + 0.587f * g + 0.114f * b;

    /// <summary>
    /// Turns interleaved pixels (for example BGRA32) into <paramref name="channels"/> planes: R, G, B for 3, luma for
    /// 1. Alpha is dropped, as PIL's <c>convert("RGB")</c> does.
    /// </summary>
    /// <param name="source">Interleaved pixels, <paramref name="bytesPerPixel"/> bytes each.</param>
    /// <param name="pixelCount">Number of pixels (H * W).</param>
    /// <param name="bytesPerPixel">Stride between pixels.</param>
    /// <param name="red">Offset of red inside a pixel.</param>
    /// <param name="green">Offset of green inside a pixel.</param>
    /// <param name="blue">Offset of blue inside a pixel.</param>
    /// <param name="channels">1 or 3.</param>
    /// <param name="destination">Receives channels * pixelCount bytes, planar.</param>
    public static void InterleavedToPlanar(ReadOnlySpan<byte> source, int pixelCount, int bytesPerPixel,
        int red, int green, int blue, int channels, Span<byte> destination)
    {
        if (channels == 3)
        {
            Span<byte> r = destination.Slice(0, pixelCount);
            Span<byte> g = destination.Slice(pixelCount, pixelCount);
            Span<byte> b = destination.Slice(2 * pixelCount, pixelCount);
            for (int i = 0, at = 0; i < pixelCount; i++, at += bytesPerPixel)
            {
                r[i] = source[at + red];
                g[i] = source[at + green];
                b[i] = source[at + blue];
            }
        }
        else
        {
            for (int i = 0, at = 0; i < pixelCount; i++, at += bytesPerPixel)
            {
                destination[i] = Luma(source[at + red], source[at + green], source[at + blue]);
            }
        }
    }

    /// <summary>Copies planar bytes, replicating a gray plane to RGB or reducing RGB planes to luma when
    /// needed.</summary>
    public static void ConvertPlanes(ReadOnlySpan<byte> source, int sourceChannels, int pixelCount,
        int channels, Span<byte> destination) =>
        ConvertPlanes(source, sourceChannels, pixelCount, channels, destination, Luma);

    /// <summary>Float counterpart of <see cref="ConvertPlanes(ReadOnlySpan{byte}, int, int, int,
    /// Span{byte})"/>.</summary>
    public static void ConvertPlanes(ReadOnlySpan<float> source, int sourceChannels, int pixelCount,
        int channels, Span<float> destination) =>
        ConvertPlanes(source, sourceChannels, pixelCount, channels, destination, Luma);

    private static void ConvertPlanes<T>(ReadOnlySpan<T> source, int sourceChannels, int pixelCount,
        int channels, Span<T> destination, Func<T, T, T, T> luma)
    {
        if (sourceChannels == channels)
        {
            source.Slice(0, channels * pixelCount).CopyTo(destination);
        }
        else if (sourceChannels == 1)
        {
            for (int c = 0; c < channels; c++)
            {
                source.Slice(0, pixelCount).CopyTo(destination.Slice(c * pixelCount, pixelCount));
            }
        }
        else
        {
            for (int i = 0; i < pixelCount; i++)
            {
                destination[i] = luma(source[i], source[pixelCount + i], source[2 * pixelCount + i]);
            }
        }
    }

    /// <summary>
    /// Whether some pixel of interleaved pixels has red, green and blue not all equal: a colour image, which a
    /// reduction to luma changes (a gray one it leaves as it is).
    /// </summary>
    public static bool HasColor(ReadOnlySpan<byte> source, int pixelCount, int bytesPerPixel,
        int red, int green, int blue)
    {
        for (int i = 0, at = 0; i < pixelCount; i++, at += bytesPerPixel)
        {
            byte g = source[at + green];
            if (source[at + red] != g || source[at + blue] != g)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether three channel planes differ anywhere (a colour image); false for fewer planes.</summary>
    public static bool HasColor<T>(ReadOnlySpan<T> planes, int sourceChannels, int pixelCount)
        where T : IEquatable<T>
    {
        if (sourceChannels < 3)
        {
            return false;
        }

        ReadOnlySpan<T> green = planes.Slice(pixelCount, pixelCount);
        return !planes.Slice(0, pixelCount).SequenceEqual(green)
            || !planes.Slice(2 * pixelCount, pixelCount).SequenceEqual(green);
    }

    /// <summary>Index of the first NaN or infinite value, or -1 when all are finite.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return i;
            }
        }

        return -1;
    }
}
