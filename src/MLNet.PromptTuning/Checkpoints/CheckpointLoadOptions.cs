namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// How a checkpoint is read and adapted to the backbone it is loaded into. Every adaptation is listed in the report.
/// </summary>
public sealed class CheckpointLoadOptions
{
    /// <summary>
    /// Load NaN and infinite weights instead of refusing them. Default false: such values mean a damaged file or a
    /// diverged run, and <see cref="BackboneCheckpoint.Read"/> throws <see cref="InvalidDataException"/> naming the
    /// first tensor that has any.
    /// </summary>
    public bool AllowNonFiniteWeights { get; set; }

    /// <summary>
    /// Read PyTorch <c>torch.save</c> checkpoints (<c>.pth</c>, <c>.pt</c>, <c>.bin</c>, <c>.pth.tar</c> in the zip
    /// format of PyTorch 1.6 and later) through TorchSharp.PyBridge. Default false: such files are refused with the
    /// recipe to convert them to safetensors.
    /// </summary>
    /// <remarks>
    /// Only tensors and the dictionaries holding them are read; a <c>{"model": ...}</c> or <c>{"state_dict": ...}</c>
    /// wrapper is unwrapped and the same key maps as for safetensors apply (timm, Hugging Face, MAE, MoCo v3). The
    /// pickle is first checked opcode by opcode against what a tensor-only <c>torch.save</c> file contains: any other
    /// Python object (a function call such as <c>os.system</c>, a numpy scalar, a whole pickled model) is refused
    /// with <see cref="InvalidDataException"/> before anything is unpickled, and nothing in the file is ever
    /// executed. The legacy (pre-1.6, non-zip) format and TorchScript archives stay refused.
    /// </remarks>
    public bool AllowPyTorchPickles { get; set; }

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
