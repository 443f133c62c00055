using Microsoft.ML.Model.OnnxConverter;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Onnx;
using MLNet.PromptTuning.Persistence;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// Writes an image classification transformer into ML.NET's ONNX model: the image column's pixel vector (the ONNX
/// input) is read as the row readers read it, the scorer writes its logits, and the outputs are those of a native
/// multiclass trainer: <c>Score</c> (softmax probabilities, [B, C] float) and <c>PredictedLabel</c> (1-based key of the
/// largest probability, [B, 1] uint32).
/// </summary>
internal static class ImageScoringOnnxExport
{
    private const string Guidance =
        "Convert on a data view whose image column is the pixel vector itself: a known-size Vector<Single, C, H, W> " +
        "or Vector<Byte, C, H, W> of channel-planar pixels, for example LoadFromEnumerable of a class with " +
        "[VectorType(C, H, W)] float[] Image. That column becomes the ONNX model's input; see docs/onnx.md.";

    /// <summary>Writes the transformer's nodes; throws <see cref="NotSupportedException"/> when it cannot.</summary>
    public static void Write(OnnxContext context, ImageScoringCore core, ImageScoringBinding binding)
    {
        context.CheckOpSetVersion(OnnxGraph.MinimumOpsetVersion, SavedModelFormat.LoaderSignature);
        var scorer = core.Scorer as IOnnxExportableImageScorer
            ?? throw new NotSupportedException($"The scorer {core.Scorer.GetType().Name} has no ONNX export.");
        CheckInput(binding);
        var image = binding.Image;
        string column = image.Column.Name;

        if (!context.ContainsColumn(column))
        {
            throw new NotSupportedException(
                $"The image column '{column}' ({image.Column.Type}) is computed by a pipeline step that has no ONNX " +
                $"export (ML.NET's log names the step where its walk back stopped). {Guidance}");
        }

        var graph = new OnnxGraph(context.GetNodeName("PromptViT"));
        var shape = image.PixelShape!.Value;
        var pixels = graph.Reshape(graph.External(context.GetVariableName(column)),
            -1, shape.Channels, shape.Height, shape.Width);                                      // [B, C, H, W]
        bool eightBit = image.Kind == ImageColumnKind.BytePixels;
        pixels = eightBit
            ? ConvertBytePlanes(graph, pixels, shape.Channels, image.Spec.Channels)
            : ConvertFloatPlanes(graph, pixels, shape.Channels, image.Spec.Channels);

        var logits = scorer.ExportLogits(graph, pixels, eightBit, image.Spec.Channels, shape.Height, shape.Width);
        var score = graph.Softmax(logits, 2);                                                    // [B, C]
        var key = graph.Cast(graph.Add(graph.Op("ArgMax", new[] { score }, ("axis", 1L), ("keepdims", 1L)),
            graph.Int64s(1)), OnnxElementType.UInt32);                                           // [B, 1]

        var name = OnnxContextWriter.Write(context, graph);
        var output = binding.OutputSchema;
        string scoreVariable = context.AddIntermediateVariable(output[binding.ScoreIndex].Type,
            core.Settings.ScoreColumnName);
        string keyVariable = context.AddIntermediateVariable(output[binding.PredictedLabelIndex].Type,
            core.Settings.PredictedLabelColumnName);
        context.CreateNode("Identity", name(score), scoreVariable, context.GetNodeName("Identity"), "");
        context.CreateNode("Identity", name(key), keyVariable, context.GetNodeName("Identity"), "");
    }

    /// <summary>Throws <see cref="NotSupportedException"/> when the image column cannot be an ONNX input.</summary>
    public static void CheckInput(ImageScoringBinding binding)
    {
        var image = binding.Image;
        if (image.Kind is ImageColumnKind.Image or ImageColumnKind.EncodedBytes)
        {
            throw new NotSupportedException(
                $"The image column '{image.Column.Name}' holds {image.Column.Type} values; an ONNX model cannot " +
                "take decoded or encoded images, and ML.NET's image transforms (LoadImages, LoadRawImageBytes, " +
                $"ResizeImages, ExtractPixels) have no ONNX export. {Guidance}");
        }
    }

    /// <summary>
    /// As <c>PixelConversion.ConvertPlanes</c> on bytes: gray repeats, RGB becomes PIL's fixed-point luma
    /// (r·19595 + g·38470 + b·7471 + 2¹⁵) >> 16. Returns float32 8-bit values.
    /// </summary>
    private static OnnxValue ConvertBytePlanes(OnnxGraph graph, OnnxValue bytes, int have, int want)
    {
        if (have == want || have == 1)
        {
            var values = graph.Cast(bytes, OnnxElementType.Float);
            return have == want ? values : graph.Expand(values, graph.Int64s(1, want, 1, 1));
        }

        var wide = graph.Cast(bytes, OnnxElementType.Int32);
        OnnxValue Int(int value, string hint) => graph.Constant(new[] { value }, new long[] { 1 }, hint);
        OnnxValue Weighted(int channel, int weight) =>
            graph.Mul(graph.Slice(wide, 1, channel, 1), Int(weight, "luma_weight"));
        var sum = graph.Add(graph.Add(graph.Add(Weighted(0, 19595), Weighted(1, 38470)), Weighted(2, 7471)),
            Int(0x8000, "luma_round"));
        var luma = graph.Div(sum, Int(1 << 16, "luma_shift"));                                   // >> 16
        return graph.Cast(luma, OnnxElementType.Float);
    }

    /// <summary>As <c>PixelConversion.ConvertPlanes</c> on floats: gray repeats, RGB becomes
    /// 0.299 r + 0.587 g + 0.114 b.</summary>
    private static OnnxValue ConvertFloatPlanes(OnnxGraph graph, OnnxValue values, int have, int want)
    {
        if (have == want)
        {
            return values;
        }

        if (have == 1)
        {
            return graph.Expand(values, graph.Int64s(1, want, 1, 1));
        }

        return graph.Add(
            graph.Add(graph.Mul(graph.Slice(values, 1, 0, 1), graph.Scalar(0.299f)),
                graph.Mul(graph.Slice(values, 1, 1, 1), graph.Scalar(0.587f))),
            graph.Mul(graph.Slice(values, 1, 2, 1), graph.Scalar(0.114f)));
    }
}
