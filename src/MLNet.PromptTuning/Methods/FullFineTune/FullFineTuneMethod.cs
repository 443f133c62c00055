using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Methods.FullFineTune;

/// <summary>
/// Full fine-tuning: no prompts and no hooks. What makes it full fine-tuning is its options' scope
/// (<see cref="TuningScope.FullFineTuning"/>): the model trains a private copy of the backbone with the head, giving
/// the backbone its own parameter groups, without weight decay on biases, norms, the class token and the position
/// embedding.
/// </summary>
public sealed partial class FullFineTuneMethod : PromptMethod
{
    /// <summary>Creates full fine-tuning for <paramref name="backbone"/>.</summary>
    public FullFineTuneMethod(FullFineTuneOptions options, BackboneDescription backbone)
        : base(options, backbone)
    {
        RegisterComponents();
    }
}
