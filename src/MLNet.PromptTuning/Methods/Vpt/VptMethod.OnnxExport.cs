using MLNet.PromptTuning.Onnx;
using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Methods.Vpt;

/// <summary>ONNX export of VPT: the inference path of <see cref="VptMethod"/> (prompt dropout is training-only).
/// </summary>
public sealed partial class VptMethod : IOnnxExportablePromptMethod
{
    void IOnnxExportablePromptMethod.ExportOnEmbeddings(OnnxPromptContext context) =>
        context.InsertSegment(Segment, context.ExpandToBatch(context.Constant(_prompts, "vpt.prompts"), 3),
            _options.PromptLength);

    void IOnnxExportablePromptMethod.ExportOnBlockStarting(int layer, OnnxPromptContext context)
    {
        if (layer >= 1 && _deepPrompts is not null)
        {
            var prompts = context.Constant(_deepPrompts[layer - 1].unsqueeze(0), $"vpt.deep_prompts.{layer - 1}");
            context.ReplaceSegment(Segment, context.ExpandToBatch(prompts, 3), _options.PromptLength);
        }
    }

    OnnxValue IOnnxExportablePromptMethod.ExportSelectFeatures(OnnxPromptContext context)
    {
        var g = context.Graph;
        OnnxValue Mean(OnnxValue tokens) => g.ReduceMean(tokens, new long[] { 1 }, keepDims: false);
        return _options.Pooling switch
        {
            VptPooling.Backbone => context.PoolWithBackbone(),
            VptPooling.PatchMean => context.NormalizePooled(Mean(context.GetSegment(TokenLayout.PatchSegment))),
            VptPooling.PromptMean => context.NormalizePooled(Mean(context.GetSegment(Segment))),
            VptPooling.PromptAndPatchMean => context.NormalizePooled(Mean(
                g.Concat(1, context.GetSegment(Segment), context.GetSegment(TokenLayout.PatchSegment)))),
            _ => throw new NotSupportedException($"VptOptions.Pooling {_options.Pooling} cannot be exported."),
        };
    }
}
