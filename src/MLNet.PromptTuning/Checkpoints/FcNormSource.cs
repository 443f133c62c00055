namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Where the pooling LayerNorm <c>fc_norm</c> of an average-pooled backbone (<c>VitConfig.UseFcNorm</c>) gets its
/// weights when the checkpoint has only the final <c>norm</c> (MAE pretraining weights). The two conventions of the
/// literature differ here.
/// </summary>
public enum FcNormSource
{
    /// <summary>
    /// The checkpoint's pretrained <c>norm</c> is applied to the mean of the tokens (GaPT and LSPT official code).
    /// </summary>
    PretrainedNorm,

    /// <summary>
    /// A fresh LayerNorm with identity weights (weight 1, bias 0) is applied to the mean and the checkpoint's
    /// <c>norm</c> is unused (VPT official code for MAE backbones).
    /// </summary>
    FreshIdentity,
}
