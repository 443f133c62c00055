using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// The output of a key map: backbone tensors under timm names (keys the map does not know pass through unchanged, so
/// they surface as unexpected keys), the classifier head under <c>head.weight</c>/<c>head.bias</c>, and the source keys
/// deliberately left out. Tensors may be the source's own objects (renamed) or new ones (transformed).
/// </summary>
internal sealed class KeyMapResult
{
    public Dictionary<string, Tensor> Backbone { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, Tensor> Head { get; } = new(StringComparer.Ordinal);

    public List<string> Ignored { get; } = [];

    /// <summary>
    /// Sets a classifier head tensor aside. Only <c>head.weight</c> and <c>head.bias</c> exist in the supported
    /// layouts; any other name (a damaged key, or a head this library does not model) is refused rather than dropped,
    /// so that a renamed tensor cannot silently go missing.
    /// </summary>
    public void AddHead(string key, Tensor tensor, string sourceKey)
    {
        if (key is not ("head.weight" or "head.bias"))
        {
            throw new InvalidDataException(
                $"Checkpoint tensor '{sourceKey}' maps to the classifier head as '{key}'; a ViT head has only " +
                "head.weight and head.bias.");
        }

        if (!Head.TryAdd(key, tensor))
        {
            throw new InvalidDataException(
                $"Two checkpoint tensors map to '{key}' (the second is '{sourceKey}'); the checkpoint mixes layouts.");
        }
    }

    /// <summary>
    /// Checks that separate q/k/v tensors can be fused into one: the same dtype (so an integer piece is not promoted
    /// to float silently) and the same shape after the first dimension.
    /// </summary>
    public static void RequireConcatenable(Tensor[] pieces, string[] keys)
    {
        for (var i = 1; i < pieces.Length; i++)
        {
            if (pieces[i].dtype != pieces[0].dtype || pieces[i].dim() != pieces[0].dim() ||
                !pieces[i].shape.Skip(1).SequenceEqual(pieces[0].shape.Skip(1)))
            {
                throw new InvalidDataException(
                    $"'{keys[i]}' ({pieces[i].dtype} [{string.Join(", ", pieces[i].shape)}]) cannot be fused with " +
                    $"'{keys[0]}' ({pieces[0].dtype} [{string.Join(", ", pieces[0].shape)}]) into one q/k/v tensor.");
            }
        }
    }

    /// <summary>Adds a backbone tensor, refusing two source keys that map to one timm key.</summary>
    public void AddBackbone(string key, Tensor tensor, string sourceKey)
    {
        if (!Backbone.TryAdd(key, tensor))
        {
            throw new InvalidDataException(
                $"Two checkpoint tensors map to '{key}' (the second is '{sourceKey}'); the checkpoint mixes layouts.");
        }
    }
}
