using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Methods.FullFineTune;

/// <summary>Options of full fine-tuning: every backbone weight trains together with the head.</summary>
public sealed class FullFineTuneOptions : PromptMethodOptions
{
    /// <summary>The registry id, <c>full</c>.</summary>
    public const string Id = "full";

    /// <inheritdoc/>
    public override string MethodId => Id;

    /// <summary>Stochastic-depth rate at the last block during training (linear from 0). Default 0; range [0, 1).</summary>
    public double StochasticDepthRate { get; set; }

    /// <inheritdoc/>
    public override void Validate(BackboneDescription backbone) =>
        Require(StochasticDepthRate >= 0 && StochasticDepthRate < 1, nameof(StochasticDepthRate), StochasticDepthRate,
            "a value in [0, 1)");
}
