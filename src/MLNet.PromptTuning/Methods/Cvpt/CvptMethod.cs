using MLNet.PromptTuning.Prompting;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Methods.Cvpt;

/// <summary>
/// Cross Visual Prompt Tuning: prompts stay out of self-attention. Each block gets P learnable prompts and a
/// cross-attention from the tokens (queries: the raw residual stream, no LayerNorm) to those prompts (keys and values:
/// the raw prompts), added at <see cref="CvptOptions.Site"/>. The cross-attention uses the block's own pretrained
/// self-attention weights (q, k, v rows of the fused projection and the output projection), frozen by default, so
/// only the prompts and the head train. Follows <c>CVPT.py</c> of the official code.
/// </summary>
public sealed partial class CvptMethod : PromptMethod
{
    [ComponentName(Name = "Prompt_Tokens")]
    private readonly Parameter _prompts;

    [ComponentName(Name = "cross_attn_qkv_weight")]
    private readonly Parameter? _crossQkvWeight;

    [ComponentName(Name = "cross_attn_qkv_bias")]
    private readonly Parameter? _crossQkvBias;

    [ComponentName(Name = "cross_attn_proj_weight")]
    private readonly Parameter? _crossProjWeight;

    [ComponentName(Name = "cross_attn_proj_bias")]
    private readonly Parameter? _crossProjBias;

    private readonly CvptOptions _options;
    private readonly IReadOnlySet<BlockSite> _sites;

    /// <summary>Creates CVPT bound to <paramref name="backbone"/>.</summary>
    public CvptMethod(CvptOptions options, BackboneDescription backbone)
        : base(options, backbone)
    {
        _options = options;
        _sites = new HashSet<BlockSite> { options.Site };
        var prompts = torch.zeros(backbone.Depth, options.PromptLength, backbone.EmbedDim);        // [L, P, D]
        if (options.PromptInit == CvptPromptInit.XavierUniform)
        {
            double bound = InitBound(options.PromptLength, backbone);
            prompts.uniform_(-bound, bound);
        }

        _prompts = NewParameter(prompts);
        if (options.TrainCrossAttention)
        {
            // The "learnable CA" ablation: a trainable copy per block, starting from the pretrained values.
            var copies = Enumerable.Range(0, backbone.Depth).Select(backbone.GetAttentionWeights).ToList();
            _crossQkvWeight = NewParameter(torch.stack(copies.Select(c => c.QkvWeight)));          // [L, 3D, D]
            _crossQkvBias = copies[0].QkvBias is null
                ? null
                : NewParameter(torch.stack(copies.Select(c => c.QkvBias!)));                        // [L, 3D]
            _crossProjWeight = NewParameter(torch.stack(copies.Select(c => c.ProjWeight)));        // [L, D, D]
            _crossProjBias = NewParameter(torch.stack(copies.Select(c => c.ProjBias)));            // [L, D]
            foreach (var copy in copies)
            {
                copy.QkvWeight.Dispose();
                copy.QkvBias?.Dispose();
                copy.ProjWeight.Dispose();
                copy.ProjBias.Dispose();
            }
        }

        RegisterComponents();
    }

    /// <summary>
    /// The prompt initialisation bound sqrt(6 / ((P + L)·D)): PyTorch's Xavier-uniform fans for an [L, P, D] tensor
    /// (0.018844 for ViT-B with P = 10).
    /// </summary>
    public static double InitBound(int promptLength, BackboneDescription backbone) =>
        Math.Sqrt(6.0 / ((double)(promptLength + backbone.Depth) * backbone.EmbedDim));

    /// <inheritdoc/>
    public override IReadOnlySet<BlockSite> UsedSites => _sites;

    /// <inheritdoc/>
    public override Tensor? ContributeAt(int layer, BlockSite site, Tensor residual, PromptContext context)
    {
        if (site != _options.Site)
        {
            return null;
        }

        var prompts = context.ToCompute(_prompts[layer]).unsqueeze(0);                            // [1, P, D]
        if (context.IsTraining && _options.Dropout > 0)
        {
            // Broadcast first so each sample draws its own dropout mask, as the official code does.
            var batch = prompts.expand(context.BatchSize, -1, -1);                                // [B, P, D]
            prompts = nn.functional.dropout(batch, _options.Dropout, training: true);
        }

        return CvptCrossAttention.Forward(residual, prompts, CrossAttentionWeights(layer, context), Backbone.NumHeads);
    }

    /// <summary>
    /// Block <paramref name="layer"/>'s cross-attention weights, in the pass's element type when a
    /// <paramref name="context"/> is given.
    /// </summary>
    internal FrozenAttentionWeights CrossAttentionWeights(int layer, PromptContext? context = null)
    {
        if (_crossQkvWeight is null)
        {
            // Frozen and equal to the self-attention: use the backbone's own tensors rather than a second copy.
            return Backbone.ViewAttentionWeights(layer);
        }

        Tensor Cast(Tensor tensor) => context is null ? tensor : context.ToCompute(tensor);
        return new FrozenAttentionWeights(
            Cast(_crossQkvWeight[layer]),
            _crossQkvBias is null ? null : Cast(_crossQkvBias[layer]),
            Cast(_crossProjWeight![layer]),
            Cast(_crossProjBias![layer]));
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _prompts.Dispose();
            _crossQkvWeight?.Dispose();
            _crossQkvBias?.Dispose();
            _crossProjWeight?.Dispose();
            _crossProjBias?.Dispose();
        }

        base.Dispose(disposing);
    }
}
