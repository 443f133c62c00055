using MLNet.PromptTuning.Methods.Cvpt;
using MLNet.PromptTuning.Methods.Lspt;
using MLNet.PromptTuning.Methods.Tcpa;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Samples.CompareMethods;

/// <summary>One compared configuration: a method with its options and learning rate.</summary>
internal sealed record MethodSpec(
    string Key, string Display, double LearningRate, string Settings, Func<PromptMethodOptions> CreateOptions,
    bool Diagnostic = false);

/// <summary>
/// The compared methods: every method in <see cref="PromptMethodRegistry"/>, each with its library defaults and its
/// own learning rate (<see cref="PromptMethodOptions.TrainingDefaults"/>) unless a rate is given on the command line,
/// except where a default is sized for ViT-B at 224 px (197 tokens, 100 epochs); those are scaled to the embedded
/// backbone (17 tokens) and the epoch budget, and the settings column of the report says so. A few variants and
/// diagnostics follow the registry's list.
/// </summary>
internal static class MethodCatalog
{
    /// <summary>The configurations, in registry order.</summary>
    /// <param name="rateOverrides">Learning rates given on the command line, by method id (others use the
    /// method's).</param>
    /// <param name="epochs">The epoch budget, for settings expressed as a share of it.</param>
    public static IReadOnlyList<MethodSpec> All(IReadOnlyDictionary<string, double> rateOverrides, int epochs)
    {
        // TCPA's random-selection warm-up is 10 of 100 epochs in the official code: keep the same 10 % share.
        int randomEpochs = Math.Max(1, (int)Math.Round(epochs * 0.1));
        var scaled = new Dictionary<string,
            (string Key, string Display, string Settings, Func<PromptMethodOptions> Create)>
        {
            [VptOptions.Id] = ("vpt-deep", "VPT-Deep", "P = 10 per block, prompt dropout 0.1",
                () => new VptOptions { Depth = VptDepth.Deep, PromptLength = 10 }),
            [TcpaOptions.Id] = (TcpaOptions.Id, "TCPA",
                $"pools 18 + 18, top-10, pull loss 0.01, random selection for {randomEpochs} epoch(s), dropout 0.1",
                () => new TcpaOptions { RandomSelectionEpochs = randomEpochs }),
            [CvptOptions.Id] = (CvptOptions.Id, "CVPT",
                "P = 10, cross-attention after attention, dropout 0.1, drop path 0.1",
                () => new CvptOptions { PromptLength = 10 }),
            [LsptOptions.Id] = (LsptOptions.Id, "LSPT",
                "M = 10 (default 100 is sized for 197 tokens), gated, LSTM hidden = D",
                () => new LsptOptions { PromptLength = 10 }),
        };

        var registry = PromptMethodRegistry.Default;
        double Rate(string id, PromptMethodOptions options) =>
            rateOverrides.TryGetValue(id, out var rate) ? rate : options.TrainingDefaults.LearningRate;
        var specs = new List<MethodSpec>();
        foreach (var id in registry.Ids)
        {
            var (key, display, settings, create) = scaled.TryGetValue(id, out var s)
                ? s
                : (id, id, "library defaults", () => registry.CreateOptions(id));
            specs.Add(new MethodSpec(key, display, Rate(id, create()), settings, create));
        }

        specs.Add(new MethodSpec("vpt-shallow", "VPT-Shallow", Rate(VptOptions.Id, new VptOptions()),
            "P = 10, prompt dropout 0", () => new VptOptions { Depth = VptDepth.Shallow, PromptLength = 10 }));

        // Diagnostics, run only when named with --methods: one default changed to test an explanation.
        specs.Add(new MethodSpec("cvpt-nodp", "CVPT, no drop path", Rate(CvptOptions.Id, new CvptOptions()),
            "as CVPT but backbone stochastic depth 0 (the embedded backbone was pretrained without it)",
            () => new CvptOptions { PromptLength = 10, BackboneStochasticDepthRate = 0 }, Diagnostic: true));
        return specs;
    }
}
