using MLNet.PromptTuning.Prompting;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Methods.Cvpt;

/// <summary>
/// CVPT's cross-attention with weights laid out like a ViT self-attention (fused [q; k; v] rows, then the output
/// projection): the tokens are the queries, the layer's prompts the keys and values, and neither is normalised.
/// </summary>
internal static partial class CvptCrossAttention
{
    /// <param name="tokens">Raw residual stream, [B, T, D].</param>
    /// <param name="prompts">Raw prompts, [B or 1, P, D].</param>
    /// <param name="weights">Fused qkv and projection weights in (out, in) layout, in the tokens' element type.</param>
    /// <param name="numHeads">Number of heads H (same split as the self-attention).</param>
    /// <returns>The cross-attention output, [B, T, D].</returns>
    public static Tensor Forward(Tensor tokens, Tensor prompts, FrozenAttentionWeights weights, int numHeads)
    {
        long batch = tokens.shape[0], count = tokens.shape[1], width = tokens.shape[2], promptCount = prompts.shape[1];
        long headDim = width / numHeads;
        var query = nn.functional.linear(
                tokens, weights.QkvWeight.narrow(0, 0, width), weights.QkvBias?.narrow(0, 0, width))
            .view(batch, count, numHeads, headDim).transpose(1, 2);                                // [B, H, T, hd]
        var keyValue = nn.functional.linear(
                prompts, weights.QkvWeight.narrow(0, width, 2 * width), weights.QkvBias?.narrow(0, width, 2 * width))
            .reshape(prompts.shape[0], promptCount, 2, numHeads, headDim)
            .permute(2, 0, 3, 1, 4)
            .expand(2, batch, numHeads, promptCount, headDim);                                   // [2, B, H, P, hd]
        var attended = nn.functional.scaled_dot_product_attention(query, keyValue[0], keyValue[1]); // [B, H, T, hd]
        return nn.functional.linear(
            attended.transpose(1, 2).reshape(batch, count, width), weights.ProjWeight, weights.ProjBias); // [B, T, D]
    }
}
