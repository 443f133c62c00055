using MLNet.PromptTuning.Onnx;
using TorchSharp;

namespace MLNet.PromptTuning.Interop;

/// <summary>The ONNX export of <see cref="PromptViTScorer"/>'s scoring path.</summary>
internal sealed partial class PromptViTScorer : IOnnxExportableImageScorer
{
    /// <inheritdoc/>
    public OnnxValue ExportLogits(OnnxGraph graph, OnnxValue pixels, bool eightBit, int channels, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(graph);

        // As ToEightBitRange: float pixels are scaled to [0, 255] and rounded to 8-bit steps.
        var values = eightBit
            ? pixels
            : graph.Clamp(graph.Round(graph.Mul(pixels, graph.Scalar(_pixelValueScale * 255f))), 0, 255);
        // Temporaries (parameter slices, resize weights) die with the scope; the graph holds copies.
        using var scope = torch.NewDisposeScope();
        lock (_gate)
        {
            var images = ImagePreprocessingOnnxExport.Apply(
                graph, values, channels, height, width, _model.Preprocessing);
            return PromptedModelOnnxExport.Logits(graph, _model, images);
        }
    }
}
