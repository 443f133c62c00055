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
