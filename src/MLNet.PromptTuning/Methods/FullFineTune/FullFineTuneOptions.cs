using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;

namespace MLNet.PromptTuning.Methods.FullFineTune;

/// <summary>Options of full fine-tuning: every backbone weight trains together with the head.</summary>
public sealed class FullFineTuneOptions : PromptMethodOptions
{
    /// <summary>The registry id, <c>full</c>.</summary>
    public const string Id = "full";

    /// <inheritdoc/>
    public override string MethodId => Id;

    /// <summary>
    /// Peak learning rate 0.0015 with 2 warm-up epochs (AdamW, batch 32, cosine decay), used when the trainer's
    /// <c>LearningRate</c> and <c>WarmupEpochs</c> are left unset. Chosen on a validation split, not the test set: the
    /// best validation accuracy of every rate tried (92.44 %): every backbone weight moves, so about a tenth of the
    /// prompt methods' rate (docs/benchmarks.md, "How the default learning rates were chosen").
    /// </summary>
    public override TrainingDefaults TrainingDefaults => new(LearningRate: 0.0015, WarmupEpochs: 2);

    /// <summary>The full fine-tuning scope: the backbone trains, with <see cref="StochasticDepthRate"/>.</summary>
    public override TuningScope Scope => TuningScope.FullFineTuning(StochasticDepthRate);

    /// <summary>Stochastic-depth rate at the last block during training (linear from 0). Default 0; range [0,
    /// 1).</summary>
    public double StochasticDepthRate { get; set; }

    /// <inheritdoc/>
    public override void Validate(BackboneDescription backbone) =>
        Require(StochasticDepthRate >= 0 && StochasticDepthRate < 1, nameof(StochasticDepthRate), StochasticDepthRate,
            "a value in [0, 1)");
}
