using MLNet.PromptTuning.Methods.Cvpt;
using MLNet.PromptTuning.Methods.FullFineTune;
using MLNet.PromptTuning.Methods.LinearProbe;
using MLNet.PromptTuning.Methods.Lspt;
using MLNet.PromptTuning.Methods.Sep;
using MLNet.PromptTuning.Methods.Tcpa;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Prompting;

// The built-in methods, one registration line each (see docs/adding-a-method.md). PromptMethodRegistry reads these
// declarations; nothing outside Methods/ names a method.
[assembly: PromptMethod(typeof(VptOptions), typeof(VptMethod))]
[assembly: PromptMethod(typeof(TcpaOptions), typeof(TcpaMethod))]
[assembly: PromptMethod(typeof(CvptOptions), typeof(CvptMethod))]
[assembly: PromptMethod(typeof(LsptOptions), typeof(LsptMethod))]
[assembly: PromptMethod(typeof(SepOptions), typeof(SepMethod))]
[assembly: PromptMethod(typeof(LinearProbeOptions), typeof(LinearProbeMethod))]
[assembly: PromptMethod(typeof(FullFineTuneOptions), typeof(FullFineTuneMethod))]

namespace MLNet.PromptTuning.Methods;

/// <summary>Facts about the built-in methods that the rest of the library needs without naming a method.</summary>
public static class BuiltInPromptMethods
{
    /// <summary>The method used when none is chosen: VPT (VPT-Deep with 10 prompts per block).</summary>
    public const string DefaultMethodId = VptOptions.Id;
}
