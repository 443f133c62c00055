using TorchSharp;

namespace MLNet.PromptTuning.Data;

/// <summary>
/// Brings one 8-bit image to the size and channel count a training set stores, with the same 8-bit operations as
/// <see cref="ImagePreprocessor"/> (PIL-style two-pass bicubic resize, BT.601 luma). Every path that fills a training
/// cache or a streamed batch goes through here, so cached and re-read images are byte-identical.
/// </summary>
/// <remarks>
/// The conversion never holds the whole image as float32, which for a 3000×2000 photo would be 72 MB on the decoding
/// thread. Channel conversion and the horizontal pass depend on each row alone, so they run on strips of about
/// <see cref="StripValues"/> float values, and their rounded 8-bit result is kept as bytes; the vertical pass then
/// runs one channel at a time on that narrow image. Each output value is computed by the same operations on the same
/// inputs as <see cref="ImagePreprocessor.Resize"/> over the whole image, so the bytes are identical (a test checks
/// it).
/// </remarks>
internal static class StoredImageConverter
{
    /// <summary>Float values converted at a time by the row pass: 4 MB as float32.</summary>
    internal const int StripValues = 1 << 20;

    /// <summary>
    /// Returns <paramref name="image"/> (uint8 [C, h, w]) converted to <paramref name="channels"/> ×
    /// <paramref name="height"/> × <paramref name="width"/>, as uint8; the input itself when nothing changes. Call
    /// inside a dispose scope: the result belongs to it, the temporaries of each strip and channel are released as
    /// soon as they are used.
    /// </summary>
    public static torch.Tensor Convert(torch.Tensor image, int channels, int height, int width)
    {
        if (image.shape[0] == channels && image.shape[1] == height && image.shape[2] == width)
        {
            return image;
        }

        var rows = ConvertRows(image, channels, width); // [channels, h, width]
        if (rows.shape[1] == height)
        {
            return rows;
        }

        var resized = ResizeColumns(rows, height); // [channels, height, width]
        if (!ReferenceEquals(rows, image))
        {
            rows.Dispose();
        }

        return resized;
    }

    /// <summary>
    /// Channel conversion and the horizontal pass, strip by strip: uint8 [C, h, w] to uint8 [channels, h, width].
    /// Both are row-local (with antialiasing, the row axis at scale 1 is an exact identity), so strips need no
    /// overlap.
    /// </summary>
    private static torch.Tensor ConvertRows(torch.Tensor image, int channels, int width)
    {
        long sourceChannels = image.shape[0], height = image.shape[1], sourceWidth = image.shape[2];
        if (sourceChannels == channels && sourceWidth == width)
        {
            return image;
        }

        var rows = torch.empty(new long[] { channels, height, width }, torch.ScalarType.Byte);
        long stripRows = Math.Max(1, StripValues / (Math.Max(sourceChannels, channels) * sourceWidth));
        for (long top = 0; top < height; top += stripRows)
        {
            long bottom = Math.Min(height, top + stripRows);
            using var scope = torch.NewDisposeScope();
            var strip = image.narrow(1, top, bottom - top).unsqueeze(0)
                .to_type(torch.ScalarType.Float32); // [1, C, s, w]
            strip = ImagePreprocessor.ConvertChannels(strip, channels);
            if (sourceWidth != width)
            {
                strip = ImagePreprocessor.Resize(strip, bottom - top, width); // horizontal pass only
            }

            rows.narrow(1, top, bottom - top).copy_(strip[0]); // whole values in [0, 255]: exact as bytes
        }

        return rows;
    }

    /// <summary>The vertical pass, one channel at a time: uint8 [C, h, W] to uint8 [C, height, W].</summary>
    private static torch.Tensor ResizeColumns(torch.Tensor rows, long height)
    {
        long channels = rows.shape[0], width = rows.shape[2];
        var resized = torch.empty(new long[] { channels, height, width }, torch.ScalarType.Byte);
        for (long c = 0; c < channels; c++)
        {
            using var scope = torch.NewDisposeScope();
            var plane = rows.narrow(0, c, 1).unsqueeze(0).to_type(torch.ScalarType.Float32); // [1, 1, h, W]
            resized[c].copy_(ImagePreprocessor.Resize(plane, height, width)[0, 0]); // vertical pass only
        }

        return resized;
    }
}
