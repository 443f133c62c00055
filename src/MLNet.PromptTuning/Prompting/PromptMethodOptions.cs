using System.Text.Json.Serialization;

namespace MLNet.PromptTuning.Prompting;

/// <summary>
/// Base class of every method's options. Options are plain public properties (so AutoML can bind them and they
/// round-trip through JSON in model files and adapter manifests) and are checked against the backbone in
/// <see cref="Validate"/> before any parameter is created.
/// </summary>
public abstract class PromptMethodOptions
{
    /// <summary>The registry id of the method these options configure (lower case, for example <c>vpt</c>).</summary>
    [JsonIgnore]
    public abstract string MethodId { get; }

    /// <summary>
    /// Throws an <see cref="ArgumentException"/> naming the first option whose value does not fit
    /// <paramref name="backbone"/>, with its value and the valid range.
    /// </summary>
    public virtual void Validate(BackboneDescription backbone)
    {
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> unless <paramref name="condition"/> holds.</summary>
    protected void Require(bool condition, string optionName, object value, string expected)
    {
        if (!condition)
        {
            throw new ArgumentOutOfRangeException(optionName, value,
                $"{GetType().Name}.{optionName} is {value}; expected {expected}.");
        }
    }
}
