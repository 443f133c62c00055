using TorchSharp;

namespace MLNet.PromptTuning.Data;

/// <summary>
/// Brings decoded or float pixel values to the 8-bit range [0, 255] the same way for training and scoring, so a model
/// sees identical pixels in both.
/// </summary>
internal static class PixelRounding
{
    /// <summary>
    /// uint8 images pass through; float pixels are multiplied by <paramref name="pixelValueScale"/> (which maps them to
    /// [0, 1]) and by 255, then rounded and clamped to 8-bit steps.
    /// </summary>
    public static torch.Tensor ToEightBitRange(torch.Tensor image, float pixelValueScale) =>
        image.dtype == torch.ScalarType.Byte
            ? image
            : (image * (pixelValueScale * 255f)).round().clamp(0, 255);
}
