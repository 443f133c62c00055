using System.Globalization;
using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Google's JAX/Flax ViT <c>.npz</c> names and layouts to timm's (as timm's <c>_load_weights</c> does): the conv kernel
/// goes from HWIO to OIHW, dense kernels are transposed from [in, out] to [out, in], per-head query/key/value kernels
/// [D, H, hd] become [D, D] transposed and are concatenated on dim 0, the output kernel [H, hd, D] becomes [D, D]
/// transposed. Both the original layout (<c>MultiHeadDotProductAttention_1</c>, <c>LayerNorm_2</c>,
/// <c>MlpBlock_3</c>) and big_vision's (<c>_0</c>/<c>_1</c> suffixes, <c>params/</c> prefix) are accepted; the
/// original ImageNet-21k <c>pre_logits</c> layer is dropped.
/// </summary>
internal static partial class JaxNpzKeyMap
{
    private static readonly string[] QkvOrder = ["query", "key", "value"];

    public static KeyMapResult Remap(IReadOnlyDictionary<string, Tensor> source)
    {
        var result = new KeyMapResult();
        var blocks = new SortedDictionary<int, Dictionary<string, (Tensor Tensor, string Key)>>();
        foreach (var (key, tensor) in source)
        {
            var name = key.StartsWith("params/", StringComparison.Ordinal) ? key["params/".Length..] : key;
            switch (name)
            {
                case "embedding/kernel":
                    result.AddBackbone("patch_embed.proj.weight", Permute(tensor, key, 4, 3, 2, 0, 1), key);
                    continue;
                case "embedding/bias":
                    result.AddBackbone("patch_embed.proj.bias", tensor, key);
                    continue;
                case "cls":
                    result.AddBackbone("cls_token", tensor, key);
                    continue;
                case "Transformer/posembed_input/pos_embedding":
                    result.AddBackbone("pos_embed", tensor, key);
                    continue;
                case "Transformer/encoder_norm/scale":
                    result.AddBackbone("norm.weight", tensor, key);
                    continue;
                case "Transformer/encoder_norm/bias":
                    result.AddBackbone("norm.bias", tensor, key);
                    continue;
                case "head/kernel":
                    result.AddHead("head.weight", Permute(tensor, key, 2, 1, 0), key);
                    continue;
                case "head/bias":
                    result.AddHead("head.bias", tensor, key);
                    continue;
            }

            if (name.StartsWith("pre_logits/", StringComparison.Ordinal))
            {
                result.Ignored.Add(key);
            }
            else if (name.StartsWith("Transformer/encoderblock/", StringComparison.Ordinal))
            {
                throw new NotSupportedException(
                    $"'{key}' belongs to a scanned (stacked) big_vision checkpoint, which is not supported; export " +
                    "it with per-block 'Transformer/encoderblock_{i}/' entries or convert it to timm safetensors.");
            }
            else if (BlockKey().Match(name) is { Success: true } match)
            {
                var index = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
                if (!blocks.TryGetValue(index, out var parts))
                {
                    blocks[index] = parts = new Dictionary<string, (Tensor, string)>(StringComparer.Ordinal);
                }

                parts[match.Groups[2].Value] = (tensor, key);
            }
            else
            {
                result.AddBackbone(key, tensor, key);
            }
        }

        foreach (var (index, parts) in blocks)
        {
            RemapBlock(result, index, parts);
        }

        return result;
    }

    private static void RemapBlock(KeyMapResult result, int index, Dictionary<string,
        (Tensor Tensor, string Key)> parts)
    {
        var prefix = $"blocks.{index}.";

        // The first LayerNorm of a block is norm1 and the other norm2, whatever their module indices.
        var norms = parts.Keys.Select(k => LayerNormKey().Match(k)).Where(m => m.Success)
            .Select(m => m.Groups[1].Value).Distinct().OrderBy(n =>
                int.Parse(n, CultureInfo.InvariantCulture)).ToList();
        var qkv = new Dictionary<(string Kind, string Part), (Tensor Tensor, string Key)>();
        foreach (var (name, (tensor, key)) in parts)
        {
            if (LayerNormKey().Match(name) is { Success: true } norm)
            {
                var which = norms.IndexOf(norm.Groups[1].Value) == 0 ? "norm1" : "norm2";
                var field = norm.Groups[2].Value == "scale" ? "weight" : "bias";
                result.AddBackbone($"{prefix}{which}.{field}", tensor, key);
            }
            else if (AttentionKey().Match(name) is { Success: true } attention)
            {
                var part = attention.Groups[1].Value;
                var kind = attention.Groups[2].Value;
                if (part == "out")
                {
                    result.AddBackbone(prefix + "attn.proj." + (kind == "kernel" ? "weight" : "bias"),
                        kind == "kernel" ? HeadsToMatrix(tensor, key, headsFirst: true) : tensor, key);
                }
                else
                {
                    qkv[(kind, part)] = (tensor, key);
                }
            }
            else if (MlpKey().Match(name) is { Success: true } mlp)
            {
                var layer = mlp.Groups[1].Value == "0" ? "fc1" : "fc2";
                var kernel = mlp.Groups[2].Value == "kernel";
                result.AddBackbone($"{prefix}mlp.{layer}.{(kernel ? "weight" : "bias")}",
                    kernel ? Permute(tensor, key, 2, 1, 0) : tensor, key);
            }
            else
            {
                result.AddBackbone(key, tensor, key);
            }
        }

        foreach (var kind in new[] { "kernel", "bias" })
        {
            var present = QkvOrder.Where(p => qkv.ContainsKey((kind, p))).ToList();
            if (present.Count == 0)
            {
                continue;
            }

            if (present.Count != 3)
            {
                throw new InvalidDataException(
                    $"Block {index} of the JAX checkpoint has attention {string.Join("/", present)} {kind} but not " +
                    $"all of query/key/value.");
            }

            using var scope = torch.NewDisposeScope();
            var pieces = QkvOrder.Select(p => qkv[(kind, p)])
                .Select(p => kind == "kernel" ? HeadsToMatrix(p.Tensor, p.Key, headsFirst: false)
                    : p.Tensor.reshape(-1))
                .ToArray();
            KeyMapResult.RequireConcatenable(pieces, QkvOrder.Select(p => qkv[(kind, p)].Key).ToArray());
            var fused = torch.cat(pieces, 0).contiguous(); // [3D, D] or [3D]
            result.AddBackbone($"{prefix}attn.qkv.{(kind == "kernel" ? "weight" : "bias")}",
                fused.MoveToOuterDisposeScope(), qkv[(kind, "query")].Key);
        }
    }

    /// <summary>q/k/v kernels [D, H, hd] → [H·hd, D]; the out kernel [H, hd, D] → [D, H·hd]. 2-D kernels are
    /// transposed.</summary>
    private static Tensor HeadsToMatrix(Tensor kernel, string key, bool headsFirst)
    {
        using var scope = torch.NewDisposeScope();
        var matrix = kernel.dim() switch
        {
            2 => kernel,
            3 when headsFirst => kernel.reshape(kernel.shape[0] * kernel.shape[1], kernel.shape[2]),
            3 => kernel.reshape(kernel.shape[0], kernel.shape[1] * kernel.shape[2]),
            _ => throw new InvalidDataException(
                $"JAX attention kernel '{key}' has shape [{string.Join(", ", kernel.shape)}]; expected 2 or 3 dims."),
        };
        return matrix.t().contiguous().MoveToOuterDisposeScope();
    }

    private static Tensor Permute(Tensor tensor, string key, int expectedDims, params long[] order)
    {
        if (tensor.dim() != expectedDims)
        {
            throw new InvalidDataException(
                $"JAX tensor '{key}' has shape [{string.Join(", ", tensor.shape)}]; expected {expectedDims} dims.");
        }

        using var scope = torch.NewDisposeScope();
        return tensor.permute(order).contiguous().MoveToOuterDisposeScope();
    }

    [GeneratedRegex(@"^Transformer/encoderblock_(\d+)/(.+)$", RegexOptions.CultureInvariant)]
    private static partial Regex BlockKey();

    [GeneratedRegex(@"^LayerNorm_(\d+)/(scale|bias)$", RegexOptions.CultureInvariant)]
    private static partial Regex LayerNormKey();

    [GeneratedRegex(@"^MultiHeadDotProductAttention_\d+/(query|key|value|out)/(kernel|bias)$",
        RegexOptions.CultureInvariant)]
    private static partial Regex AttentionKey();

    [GeneratedRegex(@"^MlpBlock_\d+/Dense_(\d)/(kernel|bias)$", RegexOptions.CultureInvariant)]
    private static partial Regex MlpKey();
}
