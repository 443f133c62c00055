using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Hugging Face transformers ViT names to timm names (the inverse of transformers' <c>convert_vit_timm_to_pytorch</c>):
/// the optional <c>vit.</c> prefix is stripped, separate query/key/value projections are concatenated on dim 0 in that
/// order into <c>attn.qkv</c>, <c>classifier.*</c> becomes the head and the unused <c>pooler.*</c> is dropped.
/// </summary>
internal static partial class HuggingFaceKeyMap
{
    private static readonly Dictionary<string, string> Embeddings = new(StringComparer.Ordinal)
    {
        ["embeddings.cls_token"] = "cls_token",
        ["embeddings.position_embeddings"] = "pos_embed",
        ["embeddings.patch_embeddings.projection.weight"] = "patch_embed.proj.weight",
        ["embeddings.patch_embeddings.projection.bias"] = "patch_embed.proj.bias",
        ["layernorm.weight"] = "norm.weight",
        ["layernorm.bias"] = "norm.bias",
    };

    // Order matters: "attention.output.dense" must win over "output.dense".
    private static readonly (string Hf, string Timm)[] BlockParts =
    [
        ("attention.output.dense.", "attn.proj."),
        ("layernorm_before.", "norm1."),
        ("layernorm_after.", "norm2."),
        ("intermediate.dense.", "mlp.fc1."),
        ("output.dense.", "mlp.fc2."),
    ];

    private static readonly string[] QkvOrder = ["query", "key", "value"];

    public static KeyMapResult Remap(IReadOnlyDictionary<string, Tensor> source)
    {
        var result = new KeyMapResult();
        var qkv = new SortedDictionary<(int Layer, string Kind), Dictionary<string, (Tensor Tensor, string Key)>>();
        foreach (var (key, tensor) in source)
        {
            var name = key.StartsWith("vit.", StringComparison.Ordinal) ? key[4..] : key;
            if (Embeddings.TryGetValue(name, out var timm))
            {
                result.AddBackbone(timm, tensor, key);
            }
            else if (name.StartsWith("pooler.", StringComparison.Ordinal) || name == "embeddings.mask_token")
            {
                result.Ignored.Add(key);
            }
            else if (name.StartsWith("classifier.", StringComparison.Ordinal))
            {
                result.AddHead("head." + name["classifier.".Length..], tensor, key);
            }
            else if (LayerKey().Match(name) is { Success: true } layer)
            {
                var index = int.Parse(layer.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                var rest = layer.Groups[2].Value;
                if (QkvKey().Match(rest) is { Success: true } part)
                {
                    var kind = part.Groups[2].Value;
                    if (!qkv.TryGetValue((index, kind), out var parts))
                    {
                        qkv[(index, kind)] = parts = new Dictionary<string, (Tensor, string)>(StringComparer.Ordinal);
                    }

                    parts[part.Groups[1].Value] = (tensor, key);
                    continue;
                }

                var mapped = BlockParts.FirstOrDefault(p => rest.StartsWith(p.Hf, StringComparison.Ordinal));
                var target = mapped.Hf is null ? key : $"blocks.{index}.{mapped.Timm}{rest[mapped.Hf.Length..]}";
                result.AddBackbone(target, tensor, key);
            }
            else
            {
                result.AddBackbone(key, tensor, key);
            }
        }

        foreach (var ((index, kind), parts) in qkv)
        {
            var missing = QkvOrder.Where(p => !parts.ContainsKey(p)).ToList();
            if (missing.Count > 0)
            {
                throw new InvalidDataException(
                    $"Layer {index} of the Hugging Face checkpoint has attention {string.Join("/", parts.Keys)} " +
                    $"{kind} tensors but no {string.Join("/", missing)} {kind}; q, k and v are needed together.");
            }

            var pieces = QkvOrder.Select(p => parts[p].Tensor).ToArray();
            KeyMapResult.RequireConcatenable(pieces, QkvOrder.Select(p => parts[p].Key).ToArray());
            var fused = torch.cat(pieces, 0); // [3D, D] or [3D]
            result.AddBackbone($"blocks.{index}.attn.qkv.{kind}", fused, parts["query"].Key);
        }

        return result;
    }

    [GeneratedRegex(@"^encoder\.layer\.(\d+)\.(.+)$", RegexOptions.CultureInvariant)]
    private static partial Regex LayerKey();

    [GeneratedRegex(@"^attention\.attention\.(query|key|value)\.(weight|bias)$", RegexOptions.CultureInvariant)]
    private static partial Regex QkvKey();
}
