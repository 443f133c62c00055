using MLNet.PromptTuning.Data;
using TorchSharp;

namespace MLNet.PromptTuning.Onnx;

/// <summary>
/// Writes <see cref="ImagePreprocessor"/>'s scoring path as ONNX nodes: channel conversion, PIL-equivalent
/// antialiased bicubic resizing and normalisation, from 8-bit pixel values held as float32.
/// </summary>
/// <remarks>
/// The resize is not ONNX's <c>Resize</c> operator: opset 12 (the newest ML.NET's converter writes) has no
/// antialiasing, and its cubic filter uses a = −0.75 where PIL uses −0.5. Each pass of the library's resize is
/// linear in the pixels, so the export computes that pass's weights once, by running the library's own resampling
/// on an identity matrix, and applies them with a matrix product, rounding and clamping to 8-bit values between the
/// passes exactly as the library does. The input height and width are fixed when the model is exported.
/// </remarks>
internal static class ImagePreprocessingOnnxExport
{
    private const float LumaRed = 0.299f;
    private const float LumaGreen = 0.587f;
    private const float LumaBlue = 0.114f;

    /// <summary>Normalised images [B, target channels, target height, target width].</summary>
    /// <param name="graph">The graph.</param>
    /// <param name="pixels">Pixel values in [0, 255] (whole numbers), float32 [B, C, H, W].</param>
    /// <param name="channels">C of <paramref name="pixels"/>.</param>
    /// <param name="height">H of <paramref name="pixels"/>.</param>
    /// <param name="width">W of <paramref name="pixels"/>.</param>
    /// <param name="target">The backbone's preprocessing.</param>
    public static OnnxValue Apply(OnnxGraph graph, OnnxValue pixels, int channels, int height, int width,
        ImagePreprocessing target)
    {
        var x = ConvertChannels(graph, pixels, channels, target.Channels);
        if (width != target.Width)
        {
            x = RoundToEightBits(graph, graph.MatMul(x, ResizeMatrix(graph, width, target.Width, alongWidth: true)));
        }

        if (height != target.Height)
        {
            x = RoundToEightBits(graph, graph.MatMul(ResizeMatrix(graph, height, target.Height, alongWidth: false), x));
        }

        var mean = graph.Constant(target.Mean, new long[] { 1, target.Channels, 1, 1 }, "pixel_mean");
        var std = graph.Constant(target.Std, new long[] { 1, target.Channels, 1, 1 }, "pixel_std");
        return graph.Div(graph.Sub(graph.Div(x, graph.Scalar(255f)), mean), std);
    }

    /// <summary>As <c>ImagePreprocessor.ConvertChannels</c>: gray to RGB repeats, RGB to gray is rounded luma.
    /// </summary>
    private static OnnxValue ConvertChannels(OnnxGraph graph, OnnxValue x, int have, int want)
    {
        if (have == want)
        {
            return x;
        }

        if (have == 1)
        {
            return graph.Expand(x, graph.Int64s(1, want, 1, 1));                               // [B, 3, H, W]
        }

        var luma = graph.Add(
            graph.Add(graph.Mul(graph.Slice(x, 1, 0, 1), graph.Scalar(LumaRed)),
                graph.Mul(graph.Slice(x, 1, 1, 1), graph.Scalar(LumaGreen))),
            graph.Mul(graph.Slice(x, 1, 2, 1), graph.Scalar(LumaBlue)));                          // [B, 1, H, W]
        return RoundToEightBits(graph, luma);
    }

    private static OnnxValue RoundToEightBits(OnnxGraph graph, OnnxValue x) => graph.Clamp(graph.Round(x), 0, 255);

    /// <summary>
    /// The weights of one resize pass: [in, out] to multiply from the right (width), [out, in] from the left (height).
    /// </summary>
    private static OnnxValue ResizeMatrix(OnnxGraph graph, int inputSize, int outputSize, bool alongWidth)
    {
        using var scope = torch.NewDisposeScope();
        var identity = torch.eye(inputSize, dtype: torch.ScalarType.Float32).view(1, 1, inputSize, inputSize);
        var weights = alongWidth
            ? ImagePreprocessor.Resample(identity, inputSize, outputSize)                         // [1, 1, in, out]
            : ImagePreprocessor.Resample(identity, outputSize, inputSize);                        // [1, 1, out, in]
        return graph.Constant(weights.squeeze(0).squeeze(0), alongWidth ? "resize_width" : "resize_height");
    }
}
