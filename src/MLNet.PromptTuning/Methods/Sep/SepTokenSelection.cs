namespace MLNet.PromptTuning.Methods.Sep;

/// <summary>How SEP picks the representative pre-trained tokens at a layer.</summary>
public enum SepTokenSelection
{
    /// <summary>Each image takes its own M tokens with the largest mean squared activation. The default.</summary>
    PerSample,

    /// <summary>
    /// The mean squared activation is averaged over the batch first, so every image takes the same token positions
    /// (the official code). Couples the images of a batch; use only to reproduce the paper's numbers.
    /// </summary>
    BatchPooled,
}
