using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Methods.LinearProbe;

/// <summary>
/// The linear probe reference point: every hook keeps its default, so the head sees the frozen backbone's own
/// features and only the head trains.
/// </summary>
public sealed partial class LinearProbeMethod : PromptMethod
{
    /// <summary>Creates the linear probe for <paramref name="backbone"/>.</summary>
    public LinearProbeMethod(LinearProbeOptions options, BackboneDescription backbone)
        : base(options, backbone)
    {
        RegisterComponents();
    }

    /// <summary>True: the head reads the frozen backbone's own pooled features.</summary>
    public override bool FeaturesDependOnImageOnly => true;
}
