using System.Text.Json.Serialization;
using MLNet.PromptTuning.Training;

namespace MLNet.PromptTuning.Prompting;

/// <summary>
/// Base class of every method's options. Options are plain public properties (so AutoML can bind them and they
/// round-trip through JSON in model files and adapter manifests) and are checked against the backbone in
/// <see cref="Validate"/> before any parameter is created. Besides the method's own settings they state what the
/// method needs from training: its recommended learning rate and warm-up (<see cref="TrainingDefaults"/>) and what
/// trains (<see cref="Scope"/>).
/// </summary>
public abstract class PromptMethodOptions
{
    /// <summary>The registry id of the method these options configure (lower case, for example <c>vpt</c>).</summary>
    [JsonIgnore]
    public abstract string MethodId { get; }

    /// <summary>
    /// The peak learning rate and warm-up (AdamW, batch 32, cosine decay) this method trains well with; the trainer
    /// uses them when <c>Options.LearningRate</c> or <c>Options.WarmupEpochs</c> is left unset. Each built-in method
    /// states its own; the base returns <see cref="TrainingDefaults.Generic"/> (1e-3, 1 epoch).
    /// </summary>
    [JsonIgnore]
    public virtual TrainingDefaults TrainingDefaults => TrainingDefaults.Generic;

    /// <summary>
    /// What trains with this method and how the backbone runs in training. Default
    /// <see cref="TuningScope.PromptsAndHead"/> (frozen backbone, no stochastic depth).
    /// </summary>
    [JsonIgnore]
    public virtual TuningScope Scope => TuningScope.PromptsAndHead;

    /// <summary>
    /// Throws an <see cref="ArgumentException"/> naming the first option whose value does not fit
    /// <paramref name="backbone"/>, with its value and the valid range.
    /// </summary>
    public virtual void Validate(BackboneDescription backbone)
    {
    }

    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> unless <paramref name="condition"/> holds, with the message
    /// <c>{OptionsType}.{optionName} is {value}; expected {expected}.</c> shared by every options class.
    /// </summary>
    protected void Require(bool condition, string optionName, object value, string expected) =>
        OptionChecks.Require(condition, GetType().Name, optionName, value, expected);
}
