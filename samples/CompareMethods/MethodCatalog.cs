using MLNet.PromptTuning.Methods.Cvpt;
using MLNet.PromptTuning.Methods.Lspt;
using MLNet.PromptTuning.Methods.Tcpa;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Samples.CompareMethods;

/// <summary>One compared configuration: a method with its options, peak learning rate and warm-up epochs.</summary>
internal sealed record MethodSpec(
    string Key, string Display, double LearningRate, double WarmupEpochs, string Settings,
    Func<PromptMethodOptions> CreateOptions, bool Diagnostic = false);

/// <summary>
/// The compared methods: every method in <see cref="PromptMethodRegistry"/>, each with its library defaults and its
/// own learning rate and warm-up (<see cref="PromptMethodOptions.TrainingDefaults"/>) unless given on the command line,
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
    /// <param name="warmupOverride">One warm-up for every method, or null for each method's own.</param>
    public static IReadOnlyList<MethodSpec> All(
        IReadOnlyDictionary<string, double> rateOverrides, int epochs, double? warmupOverride = null)
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
                "M = 10 (default 100 is sized for 197 tokens), gated, LSTM hidden = D, trainable attention " +
                "temperature",
                () => new LsptOptions { PromptLength = 10 }),
        };

        var registry = PromptMethodRegistry.Default;
        double Rate(string id, PromptMethodOptions options) =>
            rateOverrides.TryGetValue(id, out var rate) ? rate : options.TrainingDefaults.LearningRate;
        double Warmup(PromptMethodOptions options) => warmupOverride ?? options.TrainingDefaults.WarmupEpochs;
        MethodSpec Spec(string id, string key, string display, string settings, Func<PromptMethodOptions> create,
            bool diagnostic = false)
        {
            var options = create();
            return new MethodSpec(key, display, Rate(id, options), Warmup(options), settings, create, diagnostic);
        }

        var specs = new List<MethodSpec>();
        foreach (var id in registry.Ids)
        {
            var (key, display, settings, create) = scaled.TryGetValue(id, out var s)
                ? s
                : (id, id, "library defaults", () => registry.CreateOptions(id));
            specs.Add(Spec(id, key, display, settings, create));
        }

        specs.Add(Spec(VptOptions.Id, "vpt-shallow", "VPT-Shallow", "P = 10, prompt dropout 0",
            () => new VptOptions { Depth = VptDepth.Shallow, PromptLength = 10 }));

        // Diagnostics, run only when named with --methods: one default changed to test an explanation.
        specs.Add(Spec(CvptOptions.Id, "cvpt-nodp", "CVPT, no drop path",
            "as CVPT but backbone stochastic depth 0 (the embedded backbone was pretrained without it)",
            () => new CvptOptions { PromptLength = 10, BackboneStochasticDepthRate = 0 }, diagnostic: true));
        specs.Add(Spec(LsptOptions.Id, "lspt-fixed-temperature", "LSPT, fixed temperature",
            "as LSPT but attention temperature frozen at 1",
            () => new LsptOptions { PromptLength = 10, LearnAttentionTemperature = false }, diagnostic: true));
        return specs;
    }
}
