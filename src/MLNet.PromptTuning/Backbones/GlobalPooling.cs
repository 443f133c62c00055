namespace MLNet.PromptTuning.Backbones;

/// <summary>How the backbone turns its token sequence into one feature vector (timm's <c>global_pool</c>).</summary>
public enum GlobalPooling
{
    /// <summary>The class token after the final LayerNorm (timm <c>'token'</c>; supervised ViTs, MoCo v3).</summary>
    ClassToken,

    /// <summary>
    /// The mean of every non-prefix token (prompts and patches), normalised by <c>fc_norm</c> when the variant has
    /// one, otherwise by the final <c>norm</c> (timm <c>'avg'</c>; MAE).
    /// </summary>
    Average,
}
