using TorchSharp;

namespace MLNet.PromptTuning.Data;

/// <summary>
/// Brings one 8-bit image to the size and channel count a training set stores, with the same 8-bit operations as
/// <see cref="ImagePreprocessor"/> (PIL-style two-pass bicubic resize, BT.601 luma). Every path that fills a training
/// cache or a streamed batch goes through here, so cached and re-read images are byte-identical.
/// </summary>
internal static class StoredImageConverter
{
    /// <summary>
    /// Returns <paramref name="image"/> (uint8 [C, h, w]) converted to <paramref name="channels"/> ×
    /// <paramref name="height"/> × <paramref name="width"/>, as uint8; the input itself when nothing changes. Call
    /// inside a dispose scope.
    /// </summary>
    public static torch.Tensor Convert(torch.Tensor image, int channels, int height, int width)
    {
        if (image.shape[0] == channels && image.shape[1] == height && image.shape[2] == width)
        {
            return image;
        }

        var x = ImagePreprocessor.ConvertChannels(image.unsqueeze(0).to_type(torch.ScalarType.Float32), channels);
        if (x.shape[2] != height || x.shape[3] != width)
        {
            x = ImagePreprocessor.Resize(x, height, width); // [1, C, H, W]
        }

        return x[0].to_type(torch.ScalarType.Byte); // values are already rounded and in [0, 255]
    }
}
