using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Methods.FullFineTune;

/// <summary>
/// The full fine-tuning reference point: no prompts; the backbone's own weights train (the model gives them their own
/// parameter groups, without weight decay on biases, norms, the class token and the position embedding).
/// </summary>
public sealed partial class FullFineTuneMethod : PromptMethod
{
    private readonly FullFineTuneOptions _options;

    /// <summary>Creates full fine-tuning for <paramref name="backbone"/>.</summary>
    public FullFineTuneMethod(FullFineTuneOptions options, BackboneDescription backbone)
        : base(options, backbone)
    {
        _options = options;
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override bool TrainsBackbone => true;

    /// <inheritdoc/>
    public override double BackboneStochasticDepthRate => _options.StochasticDepthRate;
}
