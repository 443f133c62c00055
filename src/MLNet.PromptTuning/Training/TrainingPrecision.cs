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

    /// <summary>
    /// <see cref="BFloat16"/> where the hardware computes it natively (a CPU with AVX512-BF16 or AMX-BF16, a CUDA GPU
    /// of compute capability 8.0 or newer) and the backbone stays frozen, <see cref="Float32"/> otherwise. Resolved
    /// once when <c>PromptViTTrainer.Fit</c> starts; the trained model records the precision chosen. The default of
    /// <c>PromptViTTrainer.Options</c>; the engine (<see cref="ClassifierTrainer"/>) needs one of the other two,
    /// because the model must be switched by its creator (<c>SetComputePrecision</c>).
    /// </summary>
    Auto,
}
