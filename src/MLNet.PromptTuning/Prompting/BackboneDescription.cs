using MLNet.PromptTuning.Backbones;

namespace MLNet.PromptTuning.Prompting;

/// <summary>
/// What a prompt method may know about the frozen backbone it is bound to: its dimensions and read-only copies of
/// its weights. Methods validate their options against it and size their parameters from it.
/// </summary>
public sealed class BackboneDescription
{
    private readonly Func<int, FrozenAttentionWeights> _attentionWeights;

    internal BackboneDescription(VitConfig config, Func<int, FrozenAttentionWeights> attentionWeights)
    {
        Config = config;
        _attentionWeights = attentionWeights;
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

    /// <summary>Detached copies of block <paramref name="layer"/>'s self-attention weights (the caller disposes them).</summary>
    public FrozenAttentionWeights GetAttentionWeights(int layer)
    {
        if (layer < 0 || layer >= Depth)
        {
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layer must be in [0, {Depth - 1}].");
        }

        return _attentionWeights(layer);
    }
}
