using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// MAE encoder weights use timm names. The pretraining-only <c>mask_token</c> and the decoder (<c>decoder_*</c>) are
/// dropped; <c>norm.*</c> is kept, and whether it feeds the pooled features is decided on load
/// (<see cref="CheckpointLoadOptions.FcNormSource"/>).
/// </summary>
internal static class MaeKeyMap
{
    public static KeyMapResult Remap(IReadOnlyDictionary<string, Tensor> source)
    {
        var result = new KeyMapResult();
        foreach (var (key, tensor) in source)
        {
            if (key == "mask_token" || key.StartsWith("decoder_", StringComparison.Ordinal))
            {
                result.Ignored.Add(key);
            }
            else
            {
                TimmKeyMap.Route(result, key, tensor, key);
            }
        }

        return result;
    }
}
