using MLNet.PromptTuning.Onnx;

namespace MLNet.PromptTuning.Interop;

/// <summary>An <see cref="IImageBatchScorer"/> that can write its scoring path as ONNX nodes.</summary>
internal interface IOnnxExportableImageScorer
{
    /// <summary>
    /// Writes the logits [B, classes] of a batch of images, given as the row readers deliver them.
    /// Throws <see cref="NotSupportedException"/> naming what cannot be expressed.
    /// </summary>
    /// <param name="graph">The graph being built.</param>
    /// <param name="pixels">float32 [B, C, H, W]: 8-bit values when <paramref name="eightBit"/>, otherwise the float
    /// pixel column's values.</param>
    /// <param name="eightBit">True when <paramref name="pixels"/> came from bytes.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    OnnxValue ExportLogits(OnnxGraph graph, OnnxValue pixels, bool eightBit, int channels, int height, int width);
}
