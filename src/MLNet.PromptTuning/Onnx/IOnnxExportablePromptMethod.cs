using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Onnx;

/// <summary>
/// A <see cref="PromptMethod"/> that can write its inference path as ONNX nodes. The backbone's export mirrors its
/// forward loop (<c>VisionTransformer.Run</c>) and calls these hooks where the forward pass calls
/// <see cref="PromptMethod.OnEmbeddings"/>, <see cref="PromptMethod.OnBlockStarting"/>,
/// <see cref="PromptMethod.ContributeAt"/> (at the sites in <see cref="PromptMethod.UsedSites"/>),
/// <see cref="PromptMethod.OnBlockFinished"/> and <see cref="PromptMethod.SelectFeatures"/>; each must compute what
/// its runtime twin computes when not training (no dropout, no random phases, no auxiliary losses).
/// </summary>
/// <remarks>
/// Every hook does nothing by default, like the runtime hooks, so a method that overrides a runtime hook must override
/// its export twin too. A method that does not implement this interface is refused by the export, as is one whose
/// hook throws <see cref="NotSupportedException"/> for an option it cannot express: nothing exports silently wrong.
/// </remarks>
public interface IOnnxExportablePromptMethod
{
    /// <summary>Export twin of <see cref="PromptMethod.OnEmbeddings"/>.</summary>
    void ExportOnEmbeddings(OnnxPromptContext context)
    {
    }

    /// <summary>Export twin of <see cref="PromptMethod.OnBlockStarting"/>.</summary>
    void ExportOnBlockStarting(int layer, OnnxPromptContext context)
    {
    }

    /// <summary>
    /// Export twin of <see cref="PromptMethod.ContributeAt"/>: the side branch at <paramref name="site"/>, given the
    /// residual stream [B, T, D] there, or null to add nothing.
    /// </summary>
    OnnxValue? ExportContributeAt(int layer, BlockSite site, OnnxValue residual, OnnxPromptContext context) => null;

    /// <summary>Export twin of <see cref="PromptMethod.OnBlockFinished"/>.</summary>
    void ExportOnBlockFinished(int layer, OnnxPromptContext context)
    {
    }

    /// <summary>Export twin of <see cref="PromptMethod.SelectFeatures"/>: the head's input, [B, D].</summary>
    OnnxValue ExportSelectFeatures(OnnxPromptContext context) => context.PoolWithBackbone();
}
