namespace MLNet.PromptTuning.Methods.Sep;

/// <summary>Which axis the Token Fusion Module's attention runs along.</summary>
public enum SepFusionAxis
{
    /// <summary>
    /// Within each image: its M prompt queries attend over its own M representative tokens (the paper's per-input
    /// description). A prediction never depends on other images in the batch. The default.
    /// </summary>
    Tokens,

    /// <summary>
    /// Across the batch, as the official code runs (its attention receives batch-major tensors as sequence-major):
    /// prompt slot s of image b attends over slot s of every image's representatives. Predictions depend on the
    /// other images scored with them; use only to reproduce the paper's numbers.
    /// </summary>
    Batch,
}
