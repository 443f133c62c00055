using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// MoCo v3 checkpoints wrap timm names in DistributedDataParallel prefixes. The linear-probe file
/// (<c>linear-vit-b-300ep.pth.tar</c>) uses <c>module.</c>, and its <c>module.head.{weight,bias}</c> is a real
/// classifier, set aside as the head. The pretraining file uses <c>module.base_encoder.</c>; its <c>head.*</c> is the
/// contrastive projector MLP and is dropped with the momentum encoder and the predictor (as moco-v3's
/// <c>convert_to_deit.py</c> does).
/// </summary>
internal static class MocoV3KeyMap
{
    private const string BaseEncoder = "module.base_encoder.";
    private const string Module = "module.";

    public static KeyMapResult Remap(IReadOnlyDictionary<string, Tensor> source)
    {
        var result = new KeyMapResult();
        foreach (var (key, tensor) in source)
        {
            if (key.StartsWith(BaseEncoder, StringComparison.Ordinal))
            {
                var name = key[BaseEncoder.Length..];
                if (name.StartsWith("head.", StringComparison.Ordinal))
                {
                    result.Ignored.Add(key);
                }
                else
                {
                    TimmKeyMap.Route(result, name, tensor, key);
                }
            }
            else if (key.StartsWith("module.momentum_encoder.", StringComparison.Ordinal) ||
                     key.StartsWith("module.predictor.", StringComparison.Ordinal))
            {
                result.Ignored.Add(key);
            }
            else if (key.StartsWith(Module, StringComparison.Ordinal))
            {
                var name = key[Module.Length..];
                if (name.StartsWith("head.", StringComparison.Ordinal) && name is not ("head.weight" or "head.bias"))
                {
                    result.Ignored.Add(key);
                }
                else
                {
                    TimmKeyMap.Route(result, name, tensor, key);
                }
            }
            else
            {
                TimmKeyMap.Route(result, key, tensor, key);
            }
        }

        return result;
    }
}
