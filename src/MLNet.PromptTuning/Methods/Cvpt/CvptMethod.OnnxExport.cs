using MLNet.PromptTuning.Onnx;
using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Methods.Cvpt;

/// <summary>
/// ONNX export of CVPT: each block's cross-attention from the tokens to its prompts, added at the configured site.
/// Frozen cross-attention reuses the backbone block's own weight constants (no second copy in the file); learnable
/// cross-attention writes its own. Prompt dropout and the backbone's stochastic depth are training-only.
/// </summary>
public sealed partial class CvptMethod : IOnnxExportablePromptMethod
{
    OnnxValue? IOnnxExportablePromptMethod.ExportContributeAt(int layer, BlockSite site, OnnxValue residual,
        OnnxPromptContext context)
    {
        if (site != _options.Site)
        {
            return null;
        }

        using var layerPrompts = _prompts[layer].unsqueeze(0);                                  // [1, P, D]
        var prompts = context.Constant(layerPrompts, $"cvpt.prompts.{layer}");
        return CvptCrossAttention.Export(context.Graph, residual, prompts, ExportWeights(layer, context),
            Backbone.NumHeads, Backbone.EmbedDim);
    }

    private OnnxAttentionWeights ExportWeights(int layer, OnnxPromptContext context)
    {
        if (_crossQkvWeight is null)
        {
            return context.FrozenAttentionWeights(layer);
        }

        var g = context.Graph;
        using var qkvWeight = _crossQkvWeight[layer];
        using var qkvBias = _crossQkvBias?[layer];
        using var projWeight = _crossProjWeight![layer];
        using var projBias = _crossProjBias![layer];
        return new OnnxAttentionWeights(
            g.LinearWeight(qkvWeight, $"cvpt.cross_qkv_weight.{layer}"),
            qkvBias is null ? null : g.Constant(qkvBias, $"cvpt.cross_qkv_bias.{layer}"),
            g.LinearWeight(projWeight, $"cvpt.cross_proj_weight.{layer}"),
            g.Constant(projBias, $"cvpt.cross_proj_bias.{layer}"));
    }
}
