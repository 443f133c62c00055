namespace MLNet.PromptTuning.Checkpoints;

/// <summary>The naming layout of a checkpoint's tensors; every layout is mapped to timm's names on load.</summary>
public enum CheckpointFormat
{
    /// <summary>Detect the layout from sentinel keys (the default).</summary>
    Auto,

    /// <summary>
    /// timm <c>VisionTransformer</c> names (<c>blocks.0.attn.qkv.weight</c>), as in the timm hub's
    /// <c>model.safetensors</c>.
    /// </summary>
    Timm,

    /// <summary>
    /// Hugging Face transformers <c>ViTModel</c> / <c>ViTForImageClassification</c> names
    /// (<c>vit.encoder.layer.0...</c>, separate query/key/value, <c>classifier.*</c> head, <c>pooler.*</c> dropped).
    /// </summary>
    HuggingFace,

    /// <summary>
    /// Google's JAX/Flax ViT <c>.npz</c> (<c>Transformer/encoderblock_0/...</c>, HWIO conv kernels, per-head q/k/v).
    /// </summary>
    JaxNpz,

    /// <summary>
    /// MAE pretraining weights (timm names; <c>mask_token</c> and <c>decoder_*</c> dropped). Used with average pooling.
    /// </summary>
    Mae,

    /// <summary>
    /// MoCo v3 (<c>module.</c> or <c>module.base_encoder.</c> prefixes; projector, momentum encoder and predictor
    /// dropped).
    /// </summary>
    MocoV3,
}
