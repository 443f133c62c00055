namespace MLNet.PromptTuning.Checkpoints;

/// <summary>How a checkpoint is adapted to the backbone it is loaded into. Every adaptation is listed in the
/// report.</summary>
public sealed class CheckpointLoadOptions
{
    /// <summary>
    /// The source of <c>fc_norm</c> when the backbone pools with <c>fc_norm</c> and the checkpoint has only
    /// <c>norm</c>. Default <see cref="FcNormSource.PretrainedNorm"/> (GaPT/LSPT); VPT on MAE uses
    /// <see cref="FcNormSource.FreshIdentity"/>.
    /// </summary>
    public FcNormSource FcNormSource { get; set; } = FcNormSource.PretrainedNorm;

    /// <summary>
    /// Resample <c>pos_embed</c> when the checkpoint's patch grid differs from the backbone's (another image size):
    /// the class-token row is kept and the grid is resized bicubically with antialiasing, like timm's
    /// <c>resample_abs_pos_embed</c>. Default true; when false a different grid is a shape mismatch.
    /// </summary>
    public bool ResamplePositionEmbedding { get; set; } = true;

    /// <summary>
    /// Load a 3-channel patch embedding into a 1-channel backbone by summing the kernel over the input channels
    /// (timm's <c>adapt_input_conv</c>; a grey image then gives the same features as the grey image repeated on
    /// three channels). Default true; when false a different channel count is a shape mismatch.
    /// </summary>
    public bool AdaptInputChannels { get; set; } = true;
}
