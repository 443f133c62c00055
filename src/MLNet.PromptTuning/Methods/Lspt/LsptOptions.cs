using Microsoft.ML.SearchSpace;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;

namespace MLNet.PromptTuning.Methods.Lspt;

/// <summary>
/// Options of Long-term Spatial Prompt Tuning (Mo et al., arXiv 2402.17406). No official code exists; the defaults
/// are the library's reconstruction "R1" (docs/methods/lspt.md), built on the official code of GaPT (Yoo et al., ICML
/// 2023, <c>ryongithub/GatedPromptTuning</c>): M = 100 shallow prompts, a gate per block after blocks 0..L−2
/// initialised at σ(−5), a trainable attention temperature per block, the mean patch output added to the output
/// prompts, and one LSTM of width D shared across blocks whose hidden state becomes the prompt. The other plausible
/// readings, R2–R4, are options (see each property).
/// </summary>
public sealed class LsptOptions : PromptMethodOptions
{
    /// <summary>The registry id, <c>lspt</c>.</summary>
    public const string Id = "lspt";

    /// <summary>Lower bound of the attention temperature, 0.01 (GaPT's <c>TEMP_MIN</c>).</summary>
    public const double MinAttentionTemperature = 0.01;

    /// <summary>Upper bound of the attention temperature, 10 (GaPT's <c>TEMP_MAX</c>).</summary>
    public const double MaxAttentionTemperature = 10.0;

    /// <inheritdoc/>
    public override string MethodId => Id;

    /// <summary>
    /// Peak learning rate 0.015 with 2 warm-up epochs (AdamW, batch 32, cosine decay), used when the trainer's
    /// <c>LearningRate</c> and <c>WarmupEpochs</c> are left unset. Chosen on a validation split, not the test set: the
    /// best validation accuracy of every rate tried (87.02 %) (docs/benchmarks.md, "How the default learning rates were
    /// chosen").
    /// </summary>
    public override TrainingDefaults TrainingDefaults => new(LearningRate: 0.015, WarmupEpochs: 2);

    /// <summary>
    /// Number of prompts M, inserted once after the class token. Default 100 (GaPT's published example); range
    /// [1, 500]. GaPT and LSPT choose it per task.
    /// </summary>
    [Range(1, 200, init: 100, logBase: true)]
    public int PromptLength { get; set; } = 100;

    /// <summary>
    /// Dropout on the input prompts during training, drawn per sample. Default 0.1 (GaPT); range [0, 1).
    /// </summary>
    [Range(0.0, 0.5, init: 0.1, logBase: false)]
    public double Dropout { get; set; } = 0.1;

    /// <summary>
    /// Initial value of every gate logit γ_l; the gate is σ(γ_l). Default −5 (GaPT's published example, σ ≈ 0.0067,
    /// so the prompts barely change at first); range [−30, 30]. GaPT's config default is −10.
    /// </summary>
    [Range(-10.0, 0.0, init: -5.0, logBase: false)]
    public double GateLogitInit { get; set; } = -5.0;

    /// <summary>
    /// Number of blocks G after which the prompts are updated (spatial code, LSTM step, gate): blocks 0..G−1.
    /// Default null = L − 1 (GaPT's <c>GATE_NUM</c> = 11 on ViT-B: the last block is not gated); range [0, L].
    /// 0 leaves plain VPT-Shallow. G = L adds an update after the last block, which only an average-pooled backbone
    /// (MAE) reads; with class-token pooling that last gate and LSTM step cannot affect the output.
    /// </summary>
    public int? GateCount { get; set; }

    /// <summary>
    /// Whether the update is gated: prompts entering block l+1 = σ(γ_l)·U + (1 − σ(γ_l))·(prompts entering block l).
    /// Default true (R1). False hands U itself to the next block (reconstruction R3) and creates no gate parameters.
    /// </summary>
    [BooleanChoice(true)]
    public bool Gated { get; set; } = true;

    /// <summary>Where the spatial code (mean patch token) is added. Default <see
    /// cref="LsptSpatialCoding.OutputPrompts"/> (R1).</summary>
    public LsptSpatialCoding SpatialCoding { get; set; } = LsptSpatialCoding.OutputPrompts;

    /// <summary>Which patch tokens form the spatial code. Default <see cref="LsptPatchMeanSource.BlockOutput"/>
    /// (R1).</summary>
    public LsptPatchMeanSource PatchMeanSource { get; set; } = LsptPatchMeanSource.BlockOutput;

    /// <summary>How the shared LSTM forms the long-term prompt. Default <see cref="LsptLongTermCoding.Replace"/>
    /// (R1).</summary>
    public LsptLongTermCoding LongTermCoding { get; set; } = LsptLongTermCoding.Replace;

    /// <summary>
    /// Hidden width H of the shared LSTM. Default null = D (the token width; 4.72 M LSTM parameters on ViT-B);
    /// range [1, 8192]. A width other than D adds an output projection Linear(H, D); a narrow LSTM (H ≈ 150–200 on
    /// ViT-B) keeps LSPT within a few times GaPT's parameter count.
    /// </summary>
    public int? LstmHiddenSize { get; set; }

    /// <summary>
    /// Whether every block's self-attention gets a trainable temperature τ_l (one scalar per block, L in all):
    /// softmax(q·kᵀ / (√d·τ_l)). Default true, as GaPT's published run script (<c>TEMP_LEARN True</c>; its config
    /// default is false). τ starts at 1, which leaves the pretrained attention unchanged, and is clamped to
    /// [<see cref="MinAttentionTemperature"/>, <see cref="MaxAttentionTemperature"/>] before every training forward
    /// pass (the stored value, so the next step starts from the bound) and when scoring. It is trained with the
    /// prompts' learning rate and weight decay. False keeps τ = 1 and creates no parameter (the scores are then the
    /// same as with untrained temperatures).
    /// </summary>
    [BooleanChoice(true)]
    public bool LearnAttentionTemperature { get; set; } = true;

    /// <summary>The gate count used on <paramref name="backbone"/>: <see cref="GateCount"/> or L − 1.</summary>
    public int EffectiveGateCount(BackboneDescription backbone) => GateCount ?? Math.Max(backbone.Depth - 1, 0);

    /// <summary>The LSTM width used on <paramref name="backbone"/>: <see cref="LstmHiddenSize"/> or D.</summary>
    public int EffectiveLstmHiddenSize(BackboneDescription backbone) => LstmHiddenSize ?? backbone.EmbedDim;

    /// <inheritdoc/>
    public override void Validate(BackboneDescription backbone)
    {
        Require(PromptLength >= 1 && PromptLength <= 500, nameof(PromptLength), PromptLength, "a value in [1, 500]");
        Require(Dropout >= 0 && Dropout < 1, nameof(Dropout), Dropout, "a value in [0, 1)");
        Require(GateLogitInit >= -30 && GateLogitInit <= 30, nameof(GateLogitInit), GateLogitInit,
            "a value in [-30, 30]");
        Require(GateCount is null || (GateCount >= 0 && GateCount <= backbone.Depth), nameof(GateCount),
            GateCount.GetValueOrDefault(),
            $"null or a value in [0, {backbone.Depth}] (the backbone's depth)");
        Require(LstmHiddenSize is null || (LstmHiddenSize >= 1 && LstmHiddenSize <= 8192), nameof(LstmHiddenSize),
            LstmHiddenSize.GetValueOrDefault(), "null or a value in [1, 8192]");
        Require(Enum.IsDefined(SpatialCoding), nameof(SpatialCoding), SpatialCoding, "a LsptSpatialCoding value");
        Require(Enum.IsDefined(PatchMeanSource), nameof(PatchMeanSource), PatchMeanSource,
            "a LsptPatchMeanSource value");
        Require(Enum.IsDefined(LongTermCoding), nameof(LongTermCoding), LongTermCoding, "a LsptLongTermCoding value");
    }
}
