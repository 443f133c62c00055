using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Methods.FullFineTune;
using MLNet.PromptTuning.Methods.LinearProbe;
using MLNet.PromptTuning.Methods.Tcpa;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Samples.Benchmarks;

/// <summary>The two backbones and four training modes of the benchmark; the peer script defines the same
/// ones.</summary>
internal static class BenchModels
{
    public const int Classes = 10;

    public static readonly string[] ModelNames = { "ti", "embedded" };

    public static readonly string[] ModeNames = { "linear", "vpt", "tcpa", "full" };

    /// <summary>
    /// ViT-Ti/16 at 224 (RGB), or the architecture of the embedded backbone (samples/Assets/backbone: 28×28×1, patch 7,
    /// D 128, 6 blocks, 4 heads). Weights are random on both sides: speed does not depend on them.
    /// </summary>
    public static VitConfig Config(string model) => model switch
    {
        "ti" => VitVariants.Tiny(),
        "embedded" => new VitConfig
        {
            Name = "vit_fmnist5_d128_l6_h4_p7_28",
            ImageHeight = 28,
            ImageWidth = 28,
            PatchSize = 7,
            InChannels = 1,
            EmbedDim = 128,
            Depth = 6,
            NumHeads = 4,
            Preprocessing = ImagePreprocessing.Inception(28, 1),
        },
        _ => throw new ArgumentException($"Unknown model '{model}'; expected one of: {string.Join(", ", ModelNames)}."),
    };

    public static string Describe(string model) => model switch
    {
        "ti" => "ViT-Ti/16 224",
        "embedded" => "embedded 28×28×1 (D 128, patch 7)",
        _ => model,
    };

    /// <summary>Linear probe, VPT-Deep with P = 10, TCPA with its defaults, or full fine-tuning.</summary>
    public static PromptMethodOptions Method(string mode) => mode switch
    {
        "linear" => new LinearProbeOptions(),
        "vpt" => new VptOptions { PromptLength = 10, Depth = VptDepth.Deep },
        "tcpa" => new TcpaOptions(),
        "full" => new FullFineTuneOptions(),
        _ => throw new ArgumentException($"Unknown mode '{mode}'; expected one of: {string.Join(", ", ModeNames)}."),
    };

    public static string DescribeMode(string mode) => mode switch
    {
        "linear" => "linear probe",
        "vpt" => "VPT-Deep P=10",
        "tcpa" => "TCPA (defaults)",
        "full" => "full fine-tune",
        _ => mode,
    };
}
