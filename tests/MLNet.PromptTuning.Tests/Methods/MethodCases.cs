using MLNet.PromptTuning.Methods.Cvpt;
using MLNet.PromptTuning.Methods.FullFineTune;
using MLNet.PromptTuning.Methods.LinearProbe;
using MLNet.PromptTuning.Methods.Lspt;
using MLNet.PromptTuning.Methods.Sep;
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
        ["lspt"] = () => new LsptOptions { PromptLength = 4 },
        ["lspt-r2-r4-narrow"] = () => new LsptOptions
        {
            PromptLength = 4,
            LongTermCoding = LsptLongTermCoding.Residual,
            SpatialCoding = LsptSpatialCoding.InputPrompts,
            PatchMeanSource = LsptPatchMeanSource.BlockInput,
            LstmHiddenSize = 8,
        },
        ["lspt-r3-ungated"] = () => new LsptOptions { PromptLength = 4, Gated = false },
        ["lspt-gapt"] = () => new LsptOptions
        {
            PromptLength = 4,
            SpatialCoding = LsptSpatialCoding.Off,
            LongTermCoding = LsptLongTermCoding.Off,
        },
        ["sep"] = () => new SepOptions { PromptLength = 3, FusionHiddenDim = 16 },
        ["sep-official"] = () => new SepOptions
        {
            PromptLength = 3,
            FusionHiddenDim = 16,
            FusionAxis = SepFusionAxis.Batch,
            TokenSelection = SepTokenSelection.BatchPooled,
        },
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

    /// <summary>
    /// Cases whose predictions depend on the other images of a batch by design (SEP's official batch-coupled fusion);
    /// they are left out of the batch-independence contract and tested for their own semantics instead.
    /// </summary>
    private static readonly HashSet<string> BatchCoupled = new() { "sep-official" };

    /// <summary>Case names whose scores must not depend on the rest of the batch.</summary>
    public static TheoryData<string> BatchIndependentNames
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var name in Cases.Keys.Where(n => !BatchCoupled.Contains(n)))
            {
                data.Add(name);
            }

            return data;
        }
    }

    /// <summary>
    /// Whether a case picks prompts per token by a top-k over similarities (TCPA with token-level coordination): a
    /// near tie can flip under bf16 rounding and change a score discretely, so reduced precision is not compared
    /// numerically for it (TcpaTests compares role-level coordination, which has no such choice).
    /// </summary>
    public static bool SelectsPerTokenByTopK(string name) =>
        Create(name) is TcpaOptions { Coordination: TcpaCoordination.RoleAndToken };

    /// <summary>Fresh options for a case.</summary>
    public static PromptMethodOptions Create(string name) => Cases[name]();

    /// <summary>Every registered id is covered by at least one case.</summary>
    public static IEnumerable<string> CoveredIds => Cases.Values.Select(f => f().MethodId).Distinct();
}
