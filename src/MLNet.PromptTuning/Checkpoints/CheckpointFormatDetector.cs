namespace MLNet.PromptTuning.Checkpoints;

/// <summary>Recognises a checkpoint's naming layout from sentinel keys.</summary>
internal static class CheckpointFormatDetector
{
    /// <summary>
    /// The layout of <paramref name="keys"/>. A timm-named checkpoint is reported as <see cref="CheckpointFormat.Mae"/>
    /// only when MAE-only keys (<c>mask_token</c>, <c>decoder_*</c>) are present; timm's own MAE copy has none, and is
    /// loaded as timm (the pooling convention is then the configuration's).
    /// </summary>
    /// <exception cref="InvalidDataException">No layout matches; the message lists a few keys seen.</exception>
    public static CheckpointFormat Detect(IReadOnlyCollection<string> keys, string source)
    {
        static string Strip(string key, string prefix) =>
            key.StartsWith(prefix, StringComparison.Ordinal) ? key[prefix.Length..] : key;

        if (keys.Any(k => Strip(k, "params/") is "embedding/kernel" or "cls" ||
                          Strip(k, "params/").StartsWith("Transformer/", StringComparison.Ordinal)))
        {
            return CheckpointFormat.JaxNpz;
        }

        if (keys.Any(k => Strip(k, "vit.") is "embeddings.cls_token" or "embeddings.position_embeddings" ||
                          Strip(k, "vit.").StartsWith("encoder.layer.", StringComparison.Ordinal)))
        {
            return CheckpointFormat.HuggingFace;
        }

        if (keys.Any(k => k.StartsWith("module.", StringComparison.Ordinal)))
        {
            return CheckpointFormat.MocoV3;
        }

        var timm = keys.Any(k => k is "cls_token" or "pos_embed" or "patch_embed.proj.weight" ||
                                 k.StartsWith("blocks.", StringComparison.Ordinal));
        if (timm && keys.Any(k => k == "mask_token" || k.StartsWith("decoder_", StringComparison.Ordinal)))
        {
            return CheckpointFormat.Mae;
        }

        if (timm)
        {
            return CheckpointFormat.Timm;
        }

        throw new InvalidDataException(
            $"Could not recognise the layout of '{source}' ({keys.Count} tensors). Keys seen: " +
            $"{string.Join(", ", keys.Take(8))}{(keys.Count > 8 ? ", ..." : "")}. Known layouts are timm " +
            "(cls_token, blocks.0...), Hugging Face ViT (vit.embeddings..., encoder.layer.0...), Google JAX npz " +
            "(Transformer/encoderblock_0/...), MAE and MoCo v3 (module....). Pass the CheckpointFormat explicitly, " +
            "or rename the tensors to timm's names.");
    }
}
