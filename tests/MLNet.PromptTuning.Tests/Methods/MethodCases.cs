using MLNet.PromptTuning.Methods.Cvpt;
using MLNet.PromptTuning.Methods.FullFineTune;
using MLNet.PromptTuning.Methods.LinearProbe;
using MLNet.PromptTuning.Methods.Tcpa;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Prompting;
using Xunit;

namespace MLNet.PromptTuning.Tests.Methods;

/// <summary>
/// The contract-test matrix: one row per registered method configuration, sized for the tiny test backbone
/// (<see cref="TinyModels.Config"/>: D = 32, 3 blocks, 2 heads, 16 patches). Adding a method means adding rows here.
/// </summary>
public static class MethodCases
{
    private static readonly Dictionary<string, Func<PromptMethodOptions>> Cases = new()
    {
        ["linear"] = () => new LinearProbeOptions(),
        ["full"] = () => new FullFineTuneOptions(),
        ["vpt-shallow"] = () => new VptOptions { Depth = VptDepth.Shallow, PromptLength = 4 },
        ["vpt-deep"] = () => new VptOptions { Depth = VptDepth.Deep, PromptLength = 4 },
        ["cvpt"] = () => new CvptOptions { PromptLength = 4 },
        ["cvpt-mlp-input-learnable-ca"] = () => new CvptOptions
        {
            PromptLength = 3, Site = BlockSite.MlpInput, TrainCrossAttention = true,
        },
        ["tcpa"] = () => new TcpaOptions
        {
            ClassPoolSize = 5, ImagePoolSize = 6, ClassTopK = 2, ImageTopK = 3, ImagePromptLength = 2,
        },
        ["tcpa-on-vpt-fourier-renormalised"] = () => new TcpaOptions
        {
            ClassPoolSize = 4, ImagePoolSize = 4, ClassTopK = 2, ImageTopK = 2, VptPromptLength = 3,
            FourierPrompts = true, MaskMode = TcpaMaskMode.PreSoftmaxNegativeInfinity,
        },
    };

    /// <summary>Case names for xunit's MemberData.</summary>
    public static TheoryData<string> Names
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var name in Cases.Keys)
            {
                data.Add(name);
            }

            return data;
        }
    }

    /// <summary>Fresh options for a case.</summary>
    public static PromptMethodOptions Create(string name) => Cases[name]();

    /// <summary>Every registered id is covered by at least one case.</summary>
    public static IEnumerable<string> CoveredIds => Cases.Values.Select(f => f().MethodId).Distinct();
}
