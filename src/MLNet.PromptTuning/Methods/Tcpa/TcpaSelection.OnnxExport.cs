using MLNet.PromptTuning.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Methods.Tcpa;

/// <summary>ONNX export of TCPA's per-token matching (inference: always the best matches).</summary>
internal static partial class TcpaSelection
{
    /// <summary>
    /// The export twin of <see cref="Match"/> and <see cref="Visibility"/> without the random phase: cosine
    /// similarity of each query to the keys, TopK, and the 0/1 visibility of the pool's prompt tokens, [M, K·ℓ].
    /// </summary>
    /// <param name="graph">The graph.</param>
    /// <param name="keys">Learnable keys [K, D]; normalised at export, as the forward pass normalises them.</param>
    /// <param name="queries">Query states [M, D].</param>
    /// <param name="topK">Entries per query k.</param>
    /// <param name="entryLength">Prompt tokens per entry ℓ.</param>
    /// <param name="hint">Name hint for the constants.</param>
    public static OnnxValue ExportVisibility(OnnxGraph graph, Tensor keys, OnnxValue queries, int topK, int entryLength,
        string hint)
    {
        var g = graph;
        long poolSize = keys.shape[0];
        using var normalizedKeys = nn.functional.normalize(keys.detach(), dim: 1).t();           // [D, K]
        var norm = g.Max(g.Op("ReduceL2", new[] { queries }, ("axes", new long[] { 1 }), ("keepdims", 1L)),
            g.Scalar(1e-12f));                                                                   // F.normalize's eps
        var similarity = g.MatMul(g.Div(queries, norm), g.Constant(normalizedKeys, hint + ".keys")); // [M, K]
        var (_, indices) = g.TopK(similarity, topK, 1);                                          // [M, k]
        var offOn = g.Constant(new[] { 0f, 1f }, new long[] { 2 }, "one_hot_values");
        var oneHot = g.Op("OneHot", new[] { indices, g.Int64s(poolSize), offOn }, ("axis", -1L)); // [M, k, K]
        var chosen = g.ReduceSum(oneHot, new long[] { 1 }, keepDims: false);                     // [M, K]
        return entryLength == 1
            ? chosen
            : g.Reshape(g.Expand(g.Unsqueeze(chosen, 2), g.Int64s(1, 1, entryLength)), 0, poolSize * entryLength);
    }
}
