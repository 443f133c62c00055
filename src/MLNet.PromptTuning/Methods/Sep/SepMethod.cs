using MLNet.PromptTuning.Prompting;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Methods.Sep;

/// <summary>
/// The vision side of Self-Enhanced Prompt Tuning (Yao et al., arXiv 2405.15549; <c>htyao89/SEP</c>). M learned
/// prompts are appended after the patches, without position embedding. Before each chosen block the M pre-trained
/// tokens (class token or patches) with the largest mean squared activation are selected, fused with the current
/// prompt states by that block's <see cref="TokenFusionModule"/>, and written into the prompt slots. The head reads
/// the backbone's pooling of the image tokens; prompt positions are never read.
/// </summary>
/// <remarks>
/// The official code runs the fusion attention along the batch and pools the selection over the batch; that is
/// available as an option (<see cref="SepOptions.FusionAxis"/>, <see cref="SepOptions.TokenSelection"/>), while the
/// default fuses each image with its own tokens. The CLIP-specific parts (text branch, residual ensemble with frozen
/// CLIP features, consistency losses, prototype head) are not part of this vision-only method.
/// </remarks>
public sealed partial class SepMethod : PromptMethod
{
    /// <summary>Name of the prompt segment in the token layout.</summary>
    public const string Segment = "sep";

    /// <summary>State key of the sequence positions selected at the current block, [B, M] (int64).</summary>
    internal const string SelectionKey = "sep.selection";

    [ComponentName(Name = "prompt_embeddings")]
    private readonly Parameter _prompts;

    [ComponentName(Name = "fusion")]
    private readonly ModuleList<TokenFusionModule> _fusion;

    private readonly SepOptions _options;
    private readonly Dictionary<int, int> _fusionIndexByLayer;

    /// <summary>Creates SEP bound to <paramref name="backbone"/>.</summary>
    public SepMethod(SepOptions options, BackboneDescription backbone)
        : base(options, backbone)
    {
        _options = options;
        var layers = options.EffectiveLayers(backbone);
        _fusionIndexByLayer = layers.Select((layer, index) => (layer, index)).ToDictionary(p => p.layer, p => p.index);
        _prompts = NewParameter(torch.empty(1, options.PromptLength, backbone.EmbedDim).normal_(0, 0.02));
        int heads = options.EffectiveFusionHeads(backbone);
        _fusion = new ModuleList<TokenFusionModule>(layers
            .Select(_ => new TokenFusionModule(backbone.EmbedDim, heads, options.FusionHiddenDim, options.GateInit))
            .ToArray());
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override void OnEmbeddings(PromptContext context) =>
        context.InsertSegment(Segment, context.ToCompute(_prompts), SegmentPosition.End);

    /// <inheritdoc/>
    public override void OnBlockStarting(int layer, PromptContext context)
    {
        if (!_fusionIndexByLayer.TryGetValue(layer, out int index))
        {
            return;
        }

        var (representatives, positions) = SelectRepresentatives(context);               // [B, M, D], [B, M]
        context.SetState(SelectionKey, positions);
        var fused = _fusion[index].call(
            representatives, context.GetSegment(Segment), _options.FusionAxis, context.ToCompute);
        context.ReplaceSegment(Segment, fused);
    }

    /// <inheritdoc/>
    public override Tensor SelectFeatures(PromptContext context)
    {
        // Drop the prompt slots first so an average-pooled backbone does not read them either.
        if (context.Layout.Contains(Segment))
        {
            context.RemoveSegment(Segment);
        }

        return context.PoolWithBackbone();
    }

    /// <summary>
    /// The M pre-trained tokens with the largest mean squared activation in the block input, with their sequence
    /// positions. The top-k is a hard choice: gradients reach the chosen tokens' values, not the choice.
    /// </summary>
    private (Tensor Representatives, Tensor Positions) SelectRepresentatives(PromptContext context)
    {
        var positions = CandidatePositions(context.Layout);
        var tokens = context.Tokens;                                                       // [B, T, D]
        bool contiguous = positions[^1] - positions[0] == positions.Length - 1;
        var candidates = contiguous
            ? tokens.narrow(1, positions[0], positions.Length)
            : tokens.index_select(1, torch.tensor(positions, device: context.Device));     // [B, Tc, D]

        Tensor energy;                                                                     // [B or 1, Tc]
        using (torch.no_grad())
        {
            energy = candidates.detach().to(ScalarType.Float32).pow(2).mean(new long[] { -1 });
            if (_options.TokenSelection == SepTokenSelection.BatchPooled)
            {
                energy = energy.mean(new long[] { 0 }, keepdim: true);
            }
        }

        long batch = tokens.shape[0], count = _options.PromptLength, width = tokens.shape[2];
        var chosen = energy.topk(_options.PromptLength, dim: -1, largest: true, sorted: true).indexes
            .expand(batch, count);                                                         // [B, M]
        var representatives = candidates.gather(1, chosen.unsqueeze(-1).expand(batch, count, width)); // [B, M, D]
        var sequencePositions = torch.tensor(positions, device: context.Device).index_select(0, chosen.reshape(-1))
            .reshape(batch, count);                                                        // [B, M]
        return (representatives, sequencePositions);
    }

    /// <summary>Sequence positions of the pre-trained tokens (prefix and patches), in order.</summary>
    private static long[] CandidatePositions(TokenLayout layout) =>
        layout.RangesOf(TokenRole.Prefix).Concat(layout.RangesOf(TokenRole.Patches))
            .SelectMany(r => Enumerable.Range(r.Start, r.Length))
            .Order()
            .Select(p => (long)p)
            .ToArray();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _prompts.Dispose();
            _fusion.Dispose();
        }

        base.Dispose(disposing);
    }
}
