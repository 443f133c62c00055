using MLNet.PromptTuning.Methods.Cvpt;
using MLNet.PromptTuning.Methods.FullFineTune;
using MLNet.PromptTuning.Methods.LinearProbe;
using MLNet.PromptTuning.Methods.Lspt;
using MLNet.PromptTuning.Methods.Sep;
using MLNet.PromptTuning.Methods.Tcpa;
using MLNet.PromptTuning.Methods.Vpt;

namespace MLNet.PromptTuning.Prompting;

/// <summary>The one place that lists the built-in methods (explicit, so it is trim-safe and easy to read).</summary>
public static class BuiltInPromptMethods
{
    /// <summary>Creates a registry holding every built-in method.</summary>
    public static PromptMethodRegistry CreateRegistry()
    {
        var registry = new PromptMethodRegistry();
        registry.Register<LinearProbeOptions>(LinearProbeOptions.Id, (o, b) => new LinearProbeMethod(o, b));
        registry.Register<FullFineTuneOptions>(FullFineTuneOptions.Id, (o, b) => new FullFineTuneMethod(o, b));
        registry.Register<VptOptions>(VptOptions.Id, (o, b) => new VptMethod(o, b));
        registry.Register<LsptOptions>(LsptOptions.Id, (o, b) => new LsptMethod(o, b));
        registry.Register<SepOptions>(SepOptions.Id, (o, b) => new SepMethod(o, b));
        registry.Register<CvptOptions>(CvptOptions.Id, (o, b) => new CvptMethod(o, b));
        registry.Register<TcpaOptions>(TcpaOptions.Id, (o, b) => new TcpaMethod(o, b));
        return registry;
    }
}
