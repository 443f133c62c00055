using MLNet.PromptTuning.Prompting;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Methods.Lspt;

/// <summary>
/// Long-term Spatial Prompt Tuning (Mo et al., arXiv 2402.17406) on top of Gated Prompt Tuning (GaPT, Yoo et al.,
/// ICML 2023). M prompts are inserted once after the class token. After each block l &lt; G the block's output prompts
/// receive the mean patch token (spatial prompt coding), pass through one LSTM step whose (h, c) state is carried from
/// block to block (long-term prompt coding; the block index is the time axis, each prompt an independent sequence),
/// and the result is mixed with the prompts that entered block l through a learned gate σ(γ_l). Every block's
/// attention logits are divided by a trainable temperature τ_l, as in GaPT's published runs.
/// </summary>
/// <remarks>
/// No official LSPT code exists. This is the library's reconstruction R1; the alternatives R2–R4, the LSTM
/// width and the gate count are options (<see cref="LsptOptions"/>). With spatial and long-term coding off it is
/// exactly GaPT (<c>ryongithub/GatedPromptTuning</c>). Features come from the backbone's pooling: the final class
/// token (supervised, MoCo v3), or the normalised mean of prompts and patches for an average-pooled backbone (MAE).
/// </remarks>
public sealed partial class LsptMethod : PromptMethod
{
    /// <summary>Name of the prompt segment in the token layout.</summary>
    public const string Segment = "lspt";

    /// <summary>State key of the LSTM hidden state h, [B·M, H], carried across blocks.</summary>
    internal const string HiddenStateKey = "lspt.h";

    /// <summary>State key of the LSTM cell state c, [B·M, H], carried across blocks.</summary>
    internal const string CellStateKey = "lspt.c";

    /// <summary>State key of the prompts that entered the current block, [B, M, D] (the gate's other input).</summary>
    internal const string InputPromptsKey = "lspt.prompts_in";

    /// <summary>State key of the mean patch token entering the current block, [B, 1, D] (when that is the
    /// source).</summary>
    internal const string InputPatchMeanKey = "lspt.patch_mean_in";

    [ComponentName(Name = "prompt_embeddings")]
    private readonly Parameter _prompts;

    [ComponentName(Name = "gate_logits")]
    private readonly Parameter? _gateLogits;

    [ComponentName(Name = "attention_temperature")]
    private readonly Parameter? _temperature;

    [ComponentName(Name = "lstm")]
    private readonly LstmCell? _lstm;

    [ComponentName(Name = "lstm_proj")]
    private readonly Linear? _projection;

    private readonly LsptOptions _options;
    private readonly int _gateCount;

    /// <summary>Creates LSPT bound to <paramref name="backbone"/>.</summary>
    public LsptMethod(LsptOptions options, BackboneDescription backbone)
        : base(options, backbone)
    {
        _options = options;
        _gateCount = options.EffectiveGateCount(backbone);
        int width = backbone.EmbedDim;

        // GaPT's prompt init: VPT's uniform bound for a (channels·patch·patch → D) map, 0.0625 on ViT-B/16.
        double bound = Math.Sqrt(6.0 / (backbone.InChannels * backbone.PatchSize * backbone.PatchSize + width));
        _prompts = NewParameter(torch.empty(1, options.PromptLength, width).uniform_(-bound, bound));
        if (_gateCount > 0 && options.Gated)
        {
            _gateLogits = NewParameter(torch.full(_gateCount, options.GateLogitInit, ScalarType.Float32));
        }

        if (options.LearnAttentionTemperature)
        {
            // GaPT's `temp`: one scalar per block (all L), starting at 1 = the pretrained attention.
            _temperature = NewParameter(torch.ones(backbone.Depth, ScalarType.Float32));
        }

        if (_gateCount > 0 && options.LongTermCoding != LsptLongTermCoding.Off)
        {
            int hidden = options.EffectiveLstmHiddenSize(backbone);
            _lstm = new LstmCell(width, hidden);
            if (hidden != width)
            {
                _projection = nn.Linear(hidden, width);     // PyTorch's default (Kaiming-uniform) init
            }
        }

        RegisterComponents();
    }

    /// <inheritdoc/>
    public override void OnEmbeddings(PromptContext context)
    {
        if (_temperature is not null && context.IsTraining)
        {
            // GaPT clamps the stored temperatures before every forward pass, so a step that overshoots a bound
            // restarts from the bound rather than from beyond it (a clamp in the graph alone would stop its gradient).
            using var noGrad = torch.no_grad();
            _temperature.clamp_(LsptOptions.MinAttentionTemperature, LsptOptions.MaxAttentionTemperature);
        }

        var prompts = context.ToCompute(_prompts).expand(context.BatchSize, -1, -1);      // [B, M, D]
        if (_options.Dropout > 0 && context.IsTraining)
        {
            // Broadcast first so each sample draws its own mask, as GaPT's code does.
            prompts = nn.functional.dropout(prompts, _options.Dropout, training: true);
        }

        context.InsertSegment(Segment, prompts);
        context.SetState(InputPromptsKey, prompts);
        if (_lstm is not null)
        {
            // Every prompt of every image is its own sequence; h = c = 0 before block 0 (PyTorch's default).
            var zeros = torch.zeros(new[] { context.BatchSize * _options.PromptLength, _lstm.HiddenSize },
                context.ComputeType, context.Device);                                      // [B·M, H]
            context.SetState(HiddenStateKey, zeros);
            context.SetState(CellStateKey, zeros);
        }
    }

    /// <summary>
    /// Block <paramref name="layer"/>'s attention temperature within its bounds, as a scalar tensor. Scoring and ONNX
    /// export clamp without touching the stored value; in training the value is already within bounds, and the clamp
    /// passes its gradient through unchanged (bounds included).
    /// </summary>
    private torch.Tensor ClampedTemperature(int layer) => _temperature![layer].clamp(
        LsptOptions.MinAttentionTemperature, LsptOptions.MaxAttentionTemperature);

    /// <inheritdoc/>
    public override void OnBlockStarting(int layer, PromptContext context)
    {
        if (_temperature is not null)
        {
            context.Attention.DivideLogitsBy(context.ToCompute(ClampedTemperature(layer)));
        }

        if (layer < _gateCount && _options.SpatialCoding != LsptSpatialCoding.Off &&
            _options.PatchMeanSource == LsptPatchMeanSource.BlockInput)
        {
            context.SetState(InputPatchMeanKey, PatchMean(context));
        }
    }

    /// <inheritdoc/>
    public override void OnBlockFinished(int layer, PromptContext context)
    {
        if (layer >= _gateCount)
        {
            return;
        }

        var promptsIn = context.GetState(InputPromptsKey)!;                               // [B, M, D]
        var promptsOut = context.GetSegment(Segment);                                     // [B, M, D]
        Tensor? spatial = _options.SpatialCoding == LsptSpatialCoding.Off
            ? null
            : _options.PatchMeanSource == LsptPatchMeanSource.BlockOutput
                ? PatchMean(context)
                : context.GetState(InputPatchMeanKey)!;                                    // [B, 1, D]

        var coded = _options.SpatialCoding == LsptSpatialCoding.OutputPrompts ? promptsOut + spatial! : promptsOut;
        var longTerm = _options.LongTermCoding switch
        {
            LsptLongTermCoding.Replace => LstmStep(coded, context),
            LsptLongTermCoding.Residual => coded + LstmStep(coded, context),
            _ => coded,
        };                                                                                 // [B, M, D]

        var next = longTerm;
        if (_gateLogits is not null)
        {
            var gate = context.ToCompute(_gateLogits[layer].sigmoid());                    // scalar
            next = gate * longTerm + (1 - gate) * promptsIn;
        }

        if (_options.SpatialCoding == LsptSpatialCoding.InputPrompts)
        {
            next = next + spatial!;
        }

        context.ReplaceSegment(Segment, next);
        context.SetState(InputPromptsKey, next);
    }

    private static Tensor PatchMean(PromptContext context) =>
        context.GetSegment(TokenLayout.PatchSegment).mean(new long[] { 1 }, keepdim: true); // [B, 1, D]

    /// <summary>One step of the shared LSTM on every prompt of every image; updates the carried (h, c).</summary>
    private Tensor LstmStep(Tensor coded, PromptContext context)
    {
        long batch = coded.shape[0], length = coded.shape[1], width = coded.shape[2];
        var (hidden, cell) = _lstm!.Step(
            coded.reshape(batch * length, width),                                          // [B·M, D]
            context.GetState(HiddenStateKey)!,
            context.GetState(CellStateKey)!,
            context.ToCompute);                                                            // [B·M, H] each
        context.SetState(HiddenStateKey, hidden);
        context.SetState(CellStateKey, cell);
        var output = _projection is null
            ? hidden
            : nn.functional.linear(hidden, context.ToCompute(_projection.weight!),
                context.ToCompute(_projection.bias!));
        return output.reshape(batch, length, width);                                       // [B, M, D]
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _prompts.Dispose();
            _gateLogits?.Dispose();
            _temperature?.Dispose();
            _lstm?.Dispose();
            _projection?.Dispose();
        }

        base.Dispose(disposing);
    }
}
