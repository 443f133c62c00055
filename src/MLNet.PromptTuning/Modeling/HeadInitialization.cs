namespace MLNet.PromptTuning.Modeling;

/// <summary>How the linear classification head's weights start.</summary>
public enum HeadInitialization
{
    /// <summary>
    /// Truncated normal with standard deviation 0.02 (bounds ±2) and zero bias, as timm's ViT initialises its head. The
    /// starting logits are small, so training begins at a loss near ln(C), and an adaptive optimiser (AdamW, the
    /// default) at a prompt-tuning learning rate trains the head in a few epochs. The default.
    /// </summary>
    SmallTruncatedNormal = 0,

    /// <summary>
    /// The VPT codebase's head: Kaiming-normal with fan-out (standard deviation √(2 / C)) and every bias at −4.595 (a
    /// prior probability of 0.01). Its starting logits are large (about √(2D / C) in spread); it belongs to VPT's
    /// recipe of SGD with large learning rates and is the choice for reproducing the papers.
    /// </summary>
    VptKaimingFanOut = 1,
}
