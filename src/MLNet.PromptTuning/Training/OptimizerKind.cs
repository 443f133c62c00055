namespace MLNet.PromptTuning.Training;

/// <summary>The optimiser that updates the trainable parameter groups.</summary>
public enum OptimizerKind
{
    /// <summary>AdamW (decoupled weight decay), PyTorch semantics. The usual choice for prompt tuning with timm-style
    /// recipes.</summary>
    AdamW,

    /// <summary>
    /// SGD with momentum (Nesterov off) and coupled L2 weight decay, as PyTorch's <c>torch.optim.SGD</c>: the
    /// recipe of the official VPT code.
    /// </summary>
    Sgd,
}
