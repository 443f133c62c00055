using Microsoft.ML.SearchSpace;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;

namespace MLNet.PromptTuning.Methods.Cvpt;

/// <summary>
/// Options of Cross Visual Prompt Tuning (Huang et al., ICCV 2025, arXiv 2408.14961). Defaults follow the official
/// code (<c>Lingyun0419/CVPT</c>): 10 prompts per block, cross-attention between self-attention and MLP (insert 3),
/// frozen cross-attention shared with the self-attention weights, prompt dropout 0.1, backbone stochastic depth 0.1.
/// </summary>
public sealed class CvptOptions : PromptMethodOptions
{
    /// <summary>The registry id, <c>cvpt</c>.</summary>
    public const string Id = "cvpt";

    /// <inheritdoc/>
    public override string MethodId => Id;

    /// <summary>
    /// Prompts and head train; the frozen backbone runs with <see cref="BackboneStochasticDepthRate"/> in training.
    /// </summary>
    public override TuningScope Scope => TuningScope.PromptsAndHead with
    {
        BackboneStochasticDepthRate = BackboneStochasticDepthRate,
    };

    /// <summary>
    /// Peak learning rate 0.015 with 2 warm-up epochs (AdamW, batch 32, cosine decay), used when the trainer's
    /// <c>LearningRate</c> and <c>WarmupEpochs</c> are left unset. Chosen on a validation split, not the test set: the
    /// best validation accuracy of the rates up to 0.015 (81.34 %, against 78.34 % at 0.005) (docs/benchmarks.md, "How
    /// the default learning rates were chosen").
    /// </summary>
    public override TrainingDefaults TrainingDefaults => new(LearningRate: 0.015, WarmupEpochs: 2);

    /// <summary>
    /// Prompts per block P. Default 10; range [1, 500]. The official per-task settings use
    /// {1, 5, 10, 20, 50, 100, 200}; the cost of the cross-attention grows linearly in P.
    /// </summary>
    [Range(1, 200, init: 10, logBase: true)]
    public int PromptLength { get; set; } = 10;

    /// <summary>
    /// Where the cross-attention output is added in every block. Default <see cref="BlockSite.AfterAttention"/>
    /// (official insert 3, the paper's best); the other four sites are the official ablation positions 1, 2, 4, 5.
    /// </summary>
    public BlockSite Site { get; set; } = BlockSite.AfterAttention;

    /// <summary>Dropout on the prompts during training, drawn per sample. Default 0.1; range [0, 1).</summary>
    [Range(0.0, 0.5, init: 0.1)]
    public double Dropout { get; set; } = 0.1;

    /// <summary>
    /// Stochastic depth of the frozen backbone's attention and MLP branches during training, rising linearly from 0 at
    /// the first block to this value at the last (the cross-attention branch itself is never dropped). Default 0.1,
    /// as the official code builds its ViT with <c>drop_path_rate = 0.1</c> and trains it in training mode (unlike
    /// VPT, which keeps the backbone in evaluation mode); range [0, 1). Set 0 for a deterministic training forward.
    /// </summary>
    [Range(0.0, 0.3, init: 0.1)]
    public double BackboneStochasticDepthRate { get; set; } = 0.1;

    /// <summary>How the prompts are initialised. Default <see cref="CvptPromptInit.XavierUniform"/>.</summary>
    public CvptPromptInit PromptInit { get; set; } = CvptPromptInit.XavierUniform;

    /// <summary>
    /// When true, each block's cross-attention gets its own trainable copy of the self-attention weights (the paper's
    /// "learnable CA" ablation: +4·L·(D² + D) parameters, 28,348,416 for ViT-B). Default false: the cross-attention
    /// reuses the frozen self-attention weights directly, as the official code's frozen deep copy does.
    /// </summary>
    [BooleanChoice(false)]
    public bool TrainCrossAttention { get; set; }

    /// <inheritdoc/>
    public override void Validate(BackboneDescription backbone)
    {
        Require(PromptLength >= 1 && PromptLength <= 500, nameof(PromptLength), PromptLength, "a value in [1, 500]");
        Require(Enum.IsDefined(Site), nameof(Site), Site, "a BlockSite value");
        Require(Dropout >= 0 && Dropout < 1, nameof(Dropout), Dropout, "a value in [0, 1)");
        Require(BackboneStochasticDepthRate >= 0 && BackboneStochasticDepthRate < 1,
            nameof(BackboneStochasticDepthRate), BackboneStochasticDepthRate, "a value in [0, 1)");
        Require(Enum.IsDefined(PromptInit), nameof(PromptInit), PromptInit, "XavierUniform or Zeros");
    }
}
