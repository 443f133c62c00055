using MLNet.PromptTuning.Modeling;

namespace MLNet.PromptTuning.Onnx;

/// <summary>Writes a <see cref="PromptedVisionTransformer"/> (backbone, method, head) as ONNX nodes.</summary>
internal static class PromptedModelOnnxExport
{
    /// <summary>
    /// The class logits [B, C] of normalised images [B, C, H, W], in float32 whatever precision the model computes in.
    /// Throws <see cref="NotSupportedException"/> naming the method when it cannot be expressed.
    /// </summary>
    public static OnnxValue Logits(OnnxGraph graph, PromptedVisionTransformer model, OnnxValue images)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(model);
        var method = model.Method;
        if (method is not IOnnxExportablePromptMethod export)
        {
            throw new NotSupportedException(
                $"The prompt method '{method.Id}' ({method.GetType().FullName}) cannot be exported to ONNX: it " +
                $"does not implement {nameof(IOnnxExportablePromptMethod)}, which writes each of its hooks as ONNX " +
                "nodes.");
        }

        var context = VisionTransformerOnnxExport.Run(graph, model.Backbone, images, method, export);
        var features = export.ExportSelectFeatures(context);                                     // [B, D]
        var state = model.state_dict();
        return graph.Linear(features, state["head.weight"], state["head.bias"], "head");        // [B, C]
    }
}
