namespace MLNet.PromptTuning.Training;

/// <summary>Numeric precision of the model's forward computation.</summary>
public enum TrainingPrecision
{
    /// <summary>Everything in float32.</summary>
    Float32,

    /// <summary>
    /// The engine casts each normalised input batch to bfloat16 before calling the model, and casts the logits and
    /// auxiliary losses back to float32 for the loss. Which parts run in bfloat16 is the model's decision (typically
    /// the frozen backbone); trainable parameters, gradients and optimiser state stay float32. TorchSharp has no
    /// autocast. Fast on GPUs and on CPUs with AMX or AVX512-BF16; elsewhere it is slower than float32.
    /// </summary>
    BFloat16,
}
