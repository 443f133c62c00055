using Microsoft.ML.SearchSpace;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;

namespace MLNet.PromptTuning.Methods.Tcpa;

/// <summary>
/// Options of Token Coordinated Prompt Attention (Liu et al., ICML 2025, arXiv 2505.02406). Defaults follow the
/// official scripts (<c>zhoujiahuan1991/ICML2025-TCPA</c>): per-layer class and image pools of 18 one-token entries,
/// top-10 selection per token, post-softmax masking, pull-loss weight 0.01, random selection for the first 10
/// epochs, prompt dropout 0.1. The base is plain VPT-Deep prompts (no Fourier transform); see
/// <see cref="FourierPrompts"/> for the shipped VFPT base.
/// </summary>
public sealed class TcpaOptions : PromptMethodOptions
{
    /// <summary>The registry id, <c>tcpa</c>.</summary>
    public const string Id = "tcpa";

    /// <inheritdoc/>
    public override string MethodId => Id;

    /// <summary>
    /// Peak learning rate 0.015 with 2 warm-up epochs (AdamW, batch 32, cosine decay), used when the trainer's
    /// <c>LearningRate</c> and <c>WarmupEpochs</c> are left unset. Chosen on a validation split, not the test set: the
    /// best validation accuracy of the rates up to 0.015 (83.12 %, against 80.96 % at 0.005) (docs/benchmarks.md, "How
    /// the default learning rates were chosen").
    /// </summary>
    public override TrainingDefaults TrainingDefaults => new(LearningRate: 0.015, WarmupEpochs: 2);

    /// <summary>
    /// Entries K_c in each layer's class-prompt pool. Default 18 (16 in the official Stanford Dogs run);
    /// range [1, 1024].
    /// </summary>
    [Range(18, 64, init: 18)]
    public int ClassPoolSize { get; set; } = 18;

    /// <summary>
    /// Entries K_i in each layer's image-prompt pool. Default 18 (16 in the official Stanford Dogs run);
    /// range [1, 1024].
    /// </summary>
    [Range(18, 64, init: 18)]
    public int ImagePoolSize { get; set; } = 18;

    /// <summary>Prompt tokens ℓ_c per class-pool entry. Default 1; range [1, 64].</summary>
    public int ClassPromptLength { get; set; } = 1;

    /// <summary>Prompt tokens ℓ_i per image-pool entry. Default 1; range [1, 64].</summary>
    public int ImagePromptLength { get; set; } = 1;

    /// <summary>Class-pool entries k_c each class token selects. Default 10; range [1, ClassPoolSize].</summary>
    [Range(1, 18, init: 10)]
    public int ClassTopK { get; set; } = 10;

    /// <summary>Image-pool entries k_i each patch token selects. Default 10; range [1, ImagePoolSize].</summary>
    [Range(1, 18, init: 10)]
    public int ImageTopK { get; set; } = 10;

    /// <summary>Which visibility rules apply. Default <see cref="TcpaCoordination.RoleAndToken"/>.</summary>
    public TcpaCoordination Coordination { get; set; } = TcpaCoordination.RoleAndToken;

    /// <summary>
    /// How hidden prompts are masked. Default <see cref="TcpaMaskMode.PostSoftmaxMultiply"/> (the official code);
    /// <see cref="TcpaMaskMode.PreSoftmaxNegativeInfinity"/> is the paper's renormalised reading.
    /// </summary>
    public TcpaMaskMode MaskMode { get; set; } = TcpaMaskMode.PostSoftmaxMultiply;

    /// <summary>
    /// Weight λ of the key-pull loss Σ_layers mean(1 − cos(token, selected key)), added to the training objective.
    /// Default 0.01 (the official scripts); range [0, 100]. Only used with token-level selection.
    /// </summary>
    [Range(1e-4, 1.0, init: 0.01, logBase: true)]
    public double PullLossWeight { get; set; } = 0.01;

    /// <summary>
    /// Training epochs (counted from 0) during which each token selects uniformly random entries instead of its best
    /// matches, a warm-up that spreads pool usage. Default 10 (official <c>--random_epoch</c>); range [0, 100000].
    /// Evaluation and scoring always match.
    /// </summary>
    public int RandomSelectionEpochs { get; set; } = 10;

    /// <summary>Dropout on the prompts during training, drawn per sample. Default 0.1; range [0, 1).</summary>
    [Range(0.0, 0.5, init: 0.1)]
    public double Dropout { get; set; } = 0.1;

    /// <summary>
    /// When true, each layer's prompts are replaced by the real part of their 2-D Fourier transform over (tokens,
    /// channels) before they act as keys and values: the VFPT base of the shipped code, needed to reproduce its
    /// numbers. The transform mixes both pools, so role separation becomes positional. Default false (a plain
    /// VPT-Deep base, the paper's "VPT + TCPA").
    /// </summary>
    [BooleanChoice(false)]
    public bool FourierPrompts { get; set; }

    /// <summary>
    /// Number of additional VPT-Deep prompt tokens per layer placed in the token sequence itself (inserted after the
    /// class token, replaced before every block, attended by and attending to every token as in VPT), so TCPA runs
    /// on top of VPT-Deep. They see no pool prompt. Default 0 (TCPA alone); range [0, 500].
    /// </summary>
    public int VptPromptLength { get; set; }

    /// <inheritdoc/>
    public override void Validate(BackboneDescription backbone)
    {
        Require(ClassPoolSize >= 1 && ClassPoolSize <= 1024, nameof(ClassPoolSize), ClassPoolSize,
            "a value in [1, 1024]");
        Require(ImagePoolSize >= 1 && ImagePoolSize <= 1024, nameof(ImagePoolSize), ImagePoolSize,
            "a value in [1, 1024]");
        Require(ClassPromptLength >= 1 && ClassPromptLength <= 64, nameof(ClassPromptLength), ClassPromptLength,
            "a value in [1, 64]");
        Require(ImagePromptLength >= 1 && ImagePromptLength <= 64, nameof(ImagePromptLength), ImagePromptLength,
            "a value in [1, 64]");
        Require(ClassTopK >= 1 && ClassTopK <= ClassPoolSize, nameof(ClassTopK), ClassTopK,
            $"a value in [1, ClassPoolSize = {ClassPoolSize}]");
        Require(ImageTopK >= 1 && ImageTopK <= ImagePoolSize, nameof(ImageTopK), ImageTopK,
            $"a value in [1, ImagePoolSize = {ImagePoolSize}]");
        Require(Enum.IsDefined(Coordination), nameof(Coordination), Coordination, "None, Role or RoleAndToken");
        Require(Enum.IsDefined(MaskMode), nameof(MaskMode), MaskMode,
            "PostSoftmaxMultiply or PreSoftmaxNegativeInfinity");
        Require(PullLossWeight >= 0 && PullLossWeight <= 100, nameof(PullLossWeight), PullLossWeight,
            "a value in [0, 100]");
        Require(RandomSelectionEpochs >= 0 && RandomSelectionEpochs <= 100_000, nameof(RandomSelectionEpochs),
            RandomSelectionEpochs, "a value in [0, 100000]");
        Require(Dropout >= 0 && Dropout < 1, nameof(Dropout), Dropout, "a value in [0, 1)");
        Require(VptPromptLength >= 0 && VptPromptLength <= 500, nameof(VptPromptLength), VptPromptLength,
            "a value in [0, 500]");
    }
}
