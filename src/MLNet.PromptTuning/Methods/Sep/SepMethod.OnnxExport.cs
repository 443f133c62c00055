using MLNet.PromptTuning.Onnx;
using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Methods.Sep;

/// <summary>
/// ONNX export of SEP: before each fusion block the M pre-trained tokens with the largest mean squared activation
/// are picked per image (TopK, then GatherElements) and fused with the prompt states. The batch-coupled official
/// settings are refused: an exported model's batch is chosen by the runtime.
/// </summary>
public sealed partial class SepMethod : IOnnxExportablePromptMethod
{
    void IOnnxExportablePromptMethod.ExportOnEmbeddings(OnnxPromptContext context)
    {
        if (_options.IsBatchCoupled)
        {
            throw new NotSupportedException(
                $"SEP with FusionAxis = {_options.FusionAxis} and TokenSelection = {_options.TokenSelection} " +
                "cannot be exported to ONNX: its batch-coupled fusion makes each prediction depend on the other " +
                "images scored with it, and an ONNX runtime chooses the batch (ML.NET's ApplyOnnxModel scores one " +
                "row at a time). Train with FusionAxis = Tokens and TokenSelection = PerSample (the defaults) to " +
                "deploy with ONNX.");
        }

        context.InsertSegment(Segment, context.ExpandToBatch(context.Constant(_prompts, "sep.prompts"), 3),
            _options.PromptLength, SegmentPosition.End);
    }

    void IOnnxExportablePromptMethod.ExportOnBlockStarting(int layer, OnnxPromptContext context)
    {
        if (!_fusionIndexByLayer.TryGetValue(layer, out int index))
        {
            return;
        }

        var representatives = ExportRepresentatives(context);                                     // [B, M, D]
        var fused = _fusion[index].Export(
            context.Graph, representatives, context.GetSegment(Segment), $"sep.fusion.{index}");
        context.ReplaceSegment(Segment, fused, _options.PromptLength);
    }

    OnnxValue IOnnxExportablePromptMethod.ExportSelectFeatures(OnnxPromptContext context)
    {
        if (context.Layout.Contains(Segment))
        {
            context.RemoveSegment(Segment);
        }

        return context.PoolWithBackbone();
    }

    /// <summary>The export twin of <see cref="SelectRepresentatives"/> for per-image selection.</summary>
    private OnnxValue ExportRepresentatives(OnnxPromptContext context)
    {
        var g = context.Graph;
        var positions = CandidatePositions(context.Layout);
        bool contiguous = positions[^1] - positions[0] == positions.Length - 1;
        var candidates = contiguous
            ? g.Slice(context.Tokens, 1, positions[0], positions.Length)
            : g.Gather(context.Tokens, 1, positions);                                           // [B, Tc, D]
        var energy = g.ReduceMean(g.Mul(candidates, candidates), new long[] { -1 }, keepDims: false); // [B, Tc]
        var (_, chosen) = g.TopK(energy, _options.PromptLength, -1);                             // [B, M]
        var index = g.Expand(g.Unsqueeze(chosen, 2), g.Int64s(1, 1, Backbone.EmbedDim));        // [B, M, D]
        return g.GatherElements(candidates, index, 1);
    }
}
