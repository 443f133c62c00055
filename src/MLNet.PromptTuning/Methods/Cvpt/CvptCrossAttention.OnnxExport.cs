using MLNet.PromptTuning.Onnx;

namespace MLNet.PromptTuning.Methods.Cvpt;

/// <summary>ONNX export of CVPT's cross-attention.</summary>
internal static partial class CvptCrossAttention
{
    /// <summary>
    /// The export twin of <see cref="Forward"/>: tokens [B, T, D] as queries, prompts [1, P, D] as keys and values,
    /// neither normalised, with weights laid out like a self-attention (transposed in the graph).
    /// </summary>
    public static OnnxValue Export(OnnxGraph graph, OnnxValue tokens, OnnxValue prompts, OnnxAttentionWeights weights,
        int numHeads, int width)
    {
        var g = graph;
        int headDim = width / numHeads;
        var queryBias = weights.QkvBias is { } qb ? g.Slice(qb, 0, 0, width) : (OnnxValue?)null;
        var keyValueBias = weights.QkvBias is { } kb ? g.Slice(kb, 0, width, 2 * width) : (OnnxValue?)null;
        var projected = g.Linear(tokens, g.Slice(weights.QkvWeightTransposed, 1, 0, width), queryBias); // [B, T, D]
        var query = g.Transpose(g.Reshape(projected, 0, 0, numHeads, headDim), 0, 2, 1, 3);     // [B, H, T, hd]
        var keyValue = g.Transpose(g.Reshape(
                g.Linear(prompts, g.Slice(weights.QkvWeightTransposed, 1, width, 2 * width), keyValueBias),
                0, 0, 2, numHeads, headDim),
            2, 0, 3, 1, 4);                                                                      // [2, 1, H, P, hd]
        var key = g.Squeeze(g.Slice(keyValue, 0, 0, 1), 0);                                      // [1, H, P, hd]
        var value = g.Squeeze(g.Slice(keyValue, 0, 1, 1), 0);
        var attended = g.Attention(query, key, value, 4, 1.0 / Math.Sqrt(headDim));              // [B, H, T, hd]
        var merged = g.Reshape(g.Transpose(attended, 0, 2, 1, 3), 0, 0, width);                 // [B, T, D]
        return g.Linear(merged, weights.ProjWeightTransposed, weights.ProjBias);
    }
}
