namespace MLNet.PromptTuning.Data;

/// <summary>
/// The input contract of a backbone: the image size it was trained at, its channel count and the per-channel
/// normalisation applied to pixels scaled to [0, 1]. Stored with every model and adapter so scoring reproduces
/// training exactly.
/// </summary>
/// <param name="Height">Input height in pixels after resizing. Must be positive.</param>
/// <param name="Width">Input width in pixels after resizing. Must be positive.</param>
/// <param name="Channels">1 (grayscale) or 3 (RGB).</param>
/// <param name="Mean">Per-channel mean subtracted from pixels in [0, 1]; one value per channel.</param>
/// <param name="Std">Per-channel standard deviation pixels are divided by; one positive value per channel.</param>
public sealed record ImagePreprocessing(int Height, int Width, int Channels, float[] Mean, float[] Std)
{
    /// <summary>ImageNet statistics, used by supervised timm, MAE and MoCo v3 ViTs.</summary>
    public static ImagePreprocessing ImageNet(int size = 224) =>
        new(size, size, 3, new[] { 0.485f, 0.456f, 0.406f }, new[] { 0.229f, 0.224f, 0.225f });

    /// <summary>The "inception" normalisation (mean = std = 0.5, pixels mapped to [-1, 1]) of Google's original
    /// ViTs.</summary>
    public static ImagePreprocessing Inception(int size = 224, int channels = 3) =>
        new(size, size, channels, Enumerable.Repeat(0.5f, channels).ToArray(),
            Enumerable.Repeat(0.5f, channels).ToArray());

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public void Validate()
    {
        if (Height <= 0 || Width <= 0)
        {
            throw new ArgumentException($"Image size must be positive; got {Height}x{Width}.", nameof(Height));
        }

        if (Channels != 1 && Channels != 3)
        {
            throw new ArgumentException($"Channels must be 1 or 3; got {Channels}.", nameof(Channels));
        }

        if (Mean.Length != Channels || Std.Length != Channels)
        {
            throw new ArgumentException(
                $"Mean and Std need one value per channel ({Channels}); got {Mean.Length} and {Std.Length}.",
                nameof(Mean));
        }

        if (Std.Any(s => !(s > 0) || float.IsInfinity(s)))
        {
            throw new ArgumentException($"Std values must be positive and finite; got [{string.Join(", ", Std)}].",
                nameof(Std));
        }
    }
}
