using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Methods.Tcpa;

/// <summary>TCPA's per-token matching of queries to pool entries by cosine similarity against learnable keys.</summary>
internal static partial class TcpaSelection
{
    /// <summary>
    /// Picks <paramref name="topK"/> distinct entries per query: the most similar keys, or uniformly random ones in the
    /// warm-up phase. Returns the picks and the pull distance: the mean of 1 − cos(query, picked key) over every
    /// query and pick, which trains the picked keys (and, through the query, the earlier layers).
    /// </summary>
    /// <param name="keys">Learnable keys [K, D].</param>
    /// <param name="queries">Query states [M, D] (not detached).</param>
    /// <param name="topK">Entries per query k ≤ K.</param>
    /// <param name="random">True for the random warm-up phase.</param>
    public static (Tensor Indices, Tensor Distance) Match(Tensor keys, Tensor queries, int topK, bool random)
    {
        var similarity = nn.functional.normalize(queries.to(keys.dtype), dim: 1)
            .matmul(nn.functional.normalize(keys, dim: 1).t());                                   // [M, K]
        var indices = random
            ? torch.rand(similarity.shape, device: similarity.device).argsort(1).narrow(1, 0, topK) // [M, k]
            : similarity.topk(topK, dim: 1).indexes;                                               // [M, k]
        var distance = (1 - similarity.gather(1, indices)).mean();
        return (indices, distance);
    }

    /// <summary>0/1 visibility of a pool's prompt tokens from the picks, [M, K·ℓ]; an entry's ℓ tokens go together.
    /// </summary>
    public static Tensor Visibility(Tensor indices, int poolSize, int entryLength, ScalarType dtype)
    {
        var chosen = nn.functional.one_hot(indices, poolSize).sum(1).to(dtype);                   // [M, K]
        return entryLength == 1 ? chosen : chosen.repeat_interleave(entryLength, dim: 1);         // [M, K·ℓ]
    }
}
