using MLNet.PromptTuning.Methods.Cvpt;
using MLNet.PromptTuning.Methods.FullFineTune;
using MLNet.PromptTuning.Methods.LinearProbe;
using MLNet.PromptTuning.Methods.Lspt;
using MLNet.PromptTuning.Methods.Sep;
using MLNet.PromptTuning.Methods.Tcpa;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Samples.CompareMethods;

/// <summary>One compared configuration: a method with its options, peak learning rate and warm-up epochs.</summary>
internal sealed record MethodSpec(
    string Key, string Display, double LearningRate, int WarmupEpochs, string Settings,
    Func<PromptMethodOptions> CreateOptions, bool Diagnostic = false);

/// <summary>
/// The compared methods. Each keeps its library defaults except where a default is sized for ViT-B at 224 px
/// (197 tokens, 100 epochs); those are scaled to the embedded backbone (17 tokens) and a 20-epoch budget, and the
/// settings column of the report says so.
/// </summary>
internal static class MethodCatalog
{
    /// <param name="epochs">Training epochs (TCPA's random-selection phase is a share of them).</param>
    /// <param name="promptLr">One learning rate for every prompt method, or null for each method's own.</param>
    /// <param name="linearLr">The linear probe's learning rate, or null for its own.</param>
    /// <param name="fullLr">Full fine-tuning's learning rate, or null for its own.</param>
    /// <param name="warmup">One warm-up for every method, or null for each method's own.</param>
    public static IReadOnlyList<MethodSpec> All(
        int epochs, double? promptLr = null, double? linearLr = null, double? fullLr = null, int? warmup = null)
    {
        // TCPA's random-selection warm-up is 10 of 100 epochs in the official code: keep the same 10 % share.
        int randomEpochs = Math.Max(1, (int)Math.Round(epochs * 0.1));

        // Each method's own peak rate and warm-up epochs, chosen on a validation split (docs/benchmarks.md, "How the
        // default learning rates were chosen"); never on the test set.
        double Prompt(double own) => promptLr ?? own;
        int Warmup(int own) => warmup ?? own;
        return new MethodSpec[]
        {
            new("linear", "Linear probe", linearLr ?? 0.05, Warmup(2), "head only", () => new LinearProbeOptions()),
            new("full", "Full fine-tuning", fullLr ?? 5e-4, Warmup(2), "every weight; stochastic depth 0",
                () => new FullFineTuneOptions()),
            new("vpt-shallow", "VPT-Shallow", Prompt(5e-3), Warmup(2), "P = 10, prompt dropout 0",
                () => new VptOptions { Depth = VptDepth.Shallow, PromptLength = 10 }),
            new("vpt-deep", "VPT-Deep", Prompt(5e-3), Warmup(2), "P = 10 per block, prompt dropout 0.1",
                () => new VptOptions { Depth = VptDepth.Deep, PromptLength = 10 }),
            new("tcpa", "TCPA", Prompt(5e-3), Warmup(2),
                $"pools 18 + 18, top-10, pull loss 0.01, random selection for {randomEpochs} epoch(s), dropout 0.1",
                () => new TcpaOptions { RandomSelectionEpochs = randomEpochs }),
            new("cvpt", "CVPT", Prompt(5e-3), Warmup(2),
                "P = 10, cross-attention after attention, dropout 0.1, drop path 0.1",
                () => new CvptOptions { PromptLength = 10 }),
            new("lspt", "LSPT", Prompt(5e-3), Warmup(2),
                "M = 10 (default 100 is sized for 197 tokens), gated, LSTM hidden = D, trainable attention temperature",
                () => new LsptOptions { PromptLength = 10 }),
            new("sep", "SEP", Prompt(5e-3), Warmup(2),
                "4 prompts, fusion at blocks 1..L-1, per-sample selection, token axis",
                () => new SepOptions()),

            // Diagnostics, run only when named with --methods: one default changed to test an explanation.
            new("cvpt-nodp", "CVPT, no drop path", Prompt(5e-3), Warmup(2),
                "as CVPT but backbone stochastic depth 0 (the embedded backbone was pretrained without it)",
                () => new CvptOptions { PromptLength = 10, BackboneStochasticDepthRate = 0 }, Diagnostic: true),
            new("lspt-fixed-temperature", "LSPT, fixed temperature", Prompt(5e-3), Warmup(2),
                "as LSPT but attention temperature frozen at 1",
                () => new LsptOptions { PromptLength = 10, LearnAttentionTemperature = false }, Diagnostic: true),
        };
    }
}
