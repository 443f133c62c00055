using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Methods.LinearProbe;

/// <summary>Options of the linear probe: a frozen backbone and a trained linear head on its features. There are no method options.</summary>
public sealed class LinearProbeOptions : PromptMethodOptions
{
    /// <summary>The registry id, <c>linear</c>.</summary>
    public const string Id = "linear";

    /// <inheritdoc/>
    public override string MethodId => Id;
}
