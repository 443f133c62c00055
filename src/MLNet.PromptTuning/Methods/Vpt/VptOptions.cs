using Microsoft.ML.SearchSpace;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;

namespace MLNet.PromptTuning.Methods.Vpt;

/// <summary>
/// Options of Visual Prompt Tuning (Jia et al., ECCV 2022). Defaults follow the official code and demo:
/// VPT-Deep, 10 prompts, prompt dropout 0.1 for Deep and 0 for Shallow, class-token features.
/// </summary>
public sealed class VptOptions : PromptMethodOptions
{
    /// <summary>The registry id, <c>vpt</c>.</summary>
    public const string Id = "vpt";

    /// <inheritdoc/>
    public override string MethodId => Id;

    /// <summary>
    /// Peak learning rate 0.015 with 2 warm-up epochs (AdamW, batch 32, cosine decay), used when the trainer's
    /// <c>LearningRate</c> and <c>WarmupEpochs</c> are left unset. Chosen on a validation split, not the test set: the
    /// best validation accuracy of the rates up to 0.015 for VPT-Deep (82.76 %) and VPT-Shallow (82.81 %)
    /// (docs/benchmarks.md, "How the default learning rates were chosen").
    /// </summary>
    public override TrainingDefaults TrainingDefaults => new(LearningRate: 0.015, WarmupEpochs: 2);

    /// <summary>Prompts per layer P. Default 10; range [1, 500]. The paper searches {1, 5, 10, 50, 100, 200} per
    /// task.</summary>
    [Range(1, 200, init: 10, logBase: true)]
    public int PromptLength { get; set; } = 10;

    /// <summary>Shallow (one prompt set at the input) or Deep (a prompt set per block). Default Deep.</summary>
    public VptDepth Depth { get; set; } = VptDepth.Deep;

    /// <summary>
    /// Dropout applied to the prompts during training, per sample. Default null = 0.1 for Deep and 0 for Shallow, as
    /// the official demo; range [0, 1).
    /// </summary>
    public double? Dropout { get; set; }

    /// <summary>What the head reads. Default <see cref="VptPooling.Backbone"/> (the class token).</summary>
    public VptPooling Pooling { get; set; } = VptPooling.Backbone;

    /// <summary>The dropout actually used: <see cref="Dropout"/> or the depth's default.</summary>
    public double EffectiveDropout => Dropout ?? (Depth == VptDepth.Deep ? 0.1 : 0.0);

    /// <inheritdoc/>
    public override void Validate(BackboneDescription backbone)
    {
        Require(PromptLength >= 1 && PromptLength <= 500, nameof(PromptLength), PromptLength, "a value in [1, 500]");
        Require(EffectiveDropout >= 0 && EffectiveDropout < 1, nameof(Dropout), EffectiveDropout, "a value in [0, 1)");
        Require(Enum.IsDefined(Depth), nameof(Depth), Depth, "Shallow or Deep");
        Require(Enum.IsDefined(Pooling), nameof(Pooling), Pooling, "a VptPooling value");
    }
}
