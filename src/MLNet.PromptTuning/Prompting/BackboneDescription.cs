using MLNet.PromptTuning.Backbones;

namespace MLNet.PromptTuning.Prompting;

/// <summary>
/// What a prompt method may know about the frozen backbone it is bound to: its dimensions and read-only copies of
/// its weights. Methods validate their options against it and size their parameters from it.
/// </summary>
public sealed class BackboneDescription
{
    private readonly Func<int, FrozenAttentionWeights> _attentionWeights;
    private readonly Func<int, FrozenAttentionWeights> _attentionViews;

    internal BackboneDescription(
        VitConfig config,
        Func<int, FrozenAttentionWeights> attentionWeights,
        Func<int, FrozenAttentionWeights>? attentionViews = null)
    {
        Config = config;
        _attentionWeights = attentionWeights;
        _attentionViews = attentionViews ?? attentionWeights;
    }

    /// <summary>The backbone's architecture.</summary>
    public VitConfig Config { get; }

    /// <summary>Token width D.</summary>
    public int EmbedDim => Config.EmbedDim;

    /// <summary>Number of blocks L.</summary>
    public int Depth => Config.Depth;

    /// <summary>Number of attention heads H.</summary>
    public int NumHeads => Config.NumHeads;

    /// <summary>Number of patch tokens N.</summary>
    public int NumPatches => Config.NumPatches;

    /// <summary>Patch side in pixels.</summary>
    public int PatchSize => Config.PatchSize;

    /// <summary>Image channels.</summary>
    public int InChannels => Config.InChannels;

    /// <summary>Number of prefix tokens (the class token).</summary>
    public int NumPrefixTokens => Config.NumPrefixTokens;

    /// <summary>Detached copies of block <paramref name="layer"/>'s self-attention weights (the caller disposes
    /// them).</summary>
    public FrozenAttentionWeights GetAttentionWeights(int layer)
    {
        if (layer < 0 || layer >= Depth)
        {
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layer must be in [0, {Depth - 1}].");
        }

        return _attentionWeights(layer);
    }

    /// <summary>
    /// Views (no copy) of block <paramref name="layer"/>'s current self-attention weights, on the backbone's device and
    /// in its element type, detached so no gradient reaches the backbone. For methods that reuse the frozen weights in
    /// every pass (CVPT's shared cross-attention) without holding a second copy. Never modify them in place; take them
    /// inside the pass that uses them, since the backbone may move or change precision between passes.
    /// </summary>
    public FrozenAttentionWeights ViewAttentionWeights(int layer)
    {
        if (layer < 0 || layer >= Depth)
        {
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layer must be in [0, {Depth - 1}].");
        }

        return _attentionViews(layer);
    }
}
