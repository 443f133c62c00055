using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// timm names are the canonical names: identity, with <c>pre_logits.*</c> dropped and <c>head.*</c> set aside.
/// </summary>
internal static class TimmKeyMap
{
    public static KeyMapResult Remap(IReadOnlyDictionary<string, Tensor> source)
    {
        var result = new KeyMapResult();
        foreach (var (key, tensor) in source)
        {
            Route(result, key, tensor, key);
        }

        return result;
    }

    /// <summary>Routes one timm-named tensor: head, dropped, or backbone. Shared by the MAE and MoCo v3 maps.</summary>
    public static void Route(KeyMapResult result, string key, Tensor tensor, string sourceKey)
    {
        if (key.StartsWith("pre_logits.", StringComparison.Ordinal))
        {
            result.Ignored.Add(sourceKey);
        }
        else if (key.StartsWith("head.", StringComparison.Ordinal))
        {
            result.AddHead(key, tensor, sourceKey);
        }
        else
        {
            result.AddBackbone(key, tensor, sourceKey);
        }
    }
}
