using MLNet.PromptTuning.Backbones;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// The timm-named parameter shapes a <see cref="VitConfig"/> implies, computed without building the model, so that a
/// configuration read from a file can be compared with the file's tensors before anything is allocated.
/// </summary>
internal static class VitParameterShapes
{
    /// <summary>Every parameter of <c>new VisionTransformer(config).state_dict()</c> with its shape.</summary>
    /// <remarks>64-bit arithmetic throughout: an absurd configuration gives absurd shapes, never an overflow.</remarks>
    public static Dictionary<string, long[]> For(VitConfig config)
    {
        long d = config.EmbedDim;
        long hidden = (long)(config.EmbedDim * config.MlpRatio);
        long patches = (long)(config.ImageHeight / config.PatchSize) * (config.ImageWidth / config.PatchSize);
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal)
        {
            ["cls_token"] = [1, 1, d],
            ["pos_embed"] = [1, config.NumPrefixTokens + patches, d],
            ["patch_embed.proj.weight"] = [d, config.InChannels, config.PatchSize, config.PatchSize],
            ["patch_embed.proj.bias"] = [d],
        };
        for (var i = 0; i < config.Depth; i++)
        {
            var block = $"blocks.{i}.";
            shapes[block + "norm1.weight"] = [d];
            shapes[block + "norm1.bias"] = [d];
            shapes[block + "attn.qkv.weight"] = [3 * d, d];
            if (config.QkvBias)
            {
                shapes[block + "attn.qkv.bias"] = [3 * d];
            }

            shapes[block + "attn.proj.weight"] = [d, d];
            shapes[block + "attn.proj.bias"] = [d];
            shapes[block + "norm2.weight"] = [d];
            shapes[block + "norm2.bias"] = [d];
            shapes[block + "mlp.fc1.weight"] = [hidden, d];
            shapes[block + "mlp.fc1.bias"] = [hidden];
            shapes[block + "mlp.fc2.weight"] = [d, hidden];
            shapes[block + "mlp.fc2.bias"] = [d];
        }

        var norm = config.UseFcNorm ? "fc_norm" : "norm";
        shapes[norm + ".weight"] = [d];
        shapes[norm + ".bias"] = [d];
        return shapes;
    }
}
