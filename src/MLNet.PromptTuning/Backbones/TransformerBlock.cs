using MLNet.PromptTuning.Prompting;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Backbones;

/// <summary>
/// A pre-norm ViT block (timm <c>blocks.i</c>): x + Attn(LN1 x), then x + MLP(LN2 x). It offers the method its side
/// branches at the named <see cref="BlockSite"/>s and passes the context's attention extras to the attention.
/// </summary>
internal sealed class TransformerBlock : nn.Module<Tensor, PromptContext, PromptMethod?, double, Tensor>
{
    [ComponentName(Name = "norm1")]
    private readonly LayerNorm _norm1;

    [ComponentName(Name = "attn")]
    private readonly SelfAttention _attention;

    [ComponentName(Name = "norm2")]
    private readonly LayerNorm _norm2;

    [ComponentName(Name = "mlp")]
    private readonly Mlp _mlp;

    public TransformerBlock(VitConfig config, int index)
        : base($"block{index}")
    {
        _norm1 = nn.LayerNorm(config.EmbedDim, config.LayerNormEps);
        _attention = new SelfAttention(config.EmbedDim, config.NumHeads, config.QkvBias);
        _norm2 = nn.LayerNorm(config.EmbedDim, config.LayerNormEps);
        _mlp = new Mlp(config.EmbedDim, config.MlpHiddenDim);
        RegisterComponents();
    }

    public SelfAttention Attention => _attention;

    /// <summary>
    /// One block over the residual stream; invoke through <c>call</c>, so forward hooks registered on
    /// <c>blocks.i</c> (or on its <c>attn</c>) run as in PyTorch.
    /// </summary>
    /// <param name="x">Residual stream [B, T, D].</param>
    /// <param name="context">The forward pass's context (attention extras, method).</param>
    /// <param name="method">The attached method, or null for a plain forward.</param>
    /// <param name="dropPathRate">Stochastic-depth rate of this block (0 disables it).</param>
    public override Tensor forward(Tensor x, PromptContext context, PromptMethod? method, double dropPathRate)
    {
        x = AddContribution(x, BlockSite.BeforeAttention, x, context, method);

        var extras = context.Attention;
        Tensor? extraTokens = extras.ExtraKeyValueTokens is null
            ? null
            : extras.NormalizeExtraTokens
                ? _norm1.call(context.ToCompute(extras.ExtraKeyValueTokens))
                : context.ToCompute(extras.ExtraKeyValueTokens);
        var attended = _attention.call(_norm1.call(x), extraTokens, extras);           // [B, T, D]
        attended = AddContribution(attended, BlockSite.ParallelToAttention, x, context, method);
        x = x + DropPath(attended, dropPathRate, context.IsTraining);

        x = AddContribution(x, BlockSite.AfterAttention, x, context, method);

        var mlpInput = _norm2.call(x);
        mlpInput = AddContribution(mlpInput, BlockSite.MlpInput, x, context, method);
        x = x + DropPath(_mlp.call(mlpInput), dropPathRate, context.IsTraining);

        return AddContribution(x, BlockSite.AfterMlp, x, context, method);
    }

    private static Tensor AddContribution(Tensor target, BlockSite site, Tensor residual, PromptContext context,
        PromptMethod? method)
    {
        if (method is null || !method.UsedSites.Contains(site))
        {
            return target;
        }

        var contribution = method.ContributeAt(context.Layer, site, residual, context);
        return contribution is null ? target : target + contribution;
    }

    /// <summary>Per-sample stochastic depth with 1/(1-p) scaling, as timm's <c>drop_path</c>.</summary>
    private static Tensor DropPath(Tensor branch, double rate, bool training)
    {
        if (!training || rate <= 0)
        {
            return branch;
        }

        double keep = 1.0 - rate;
        // [B, 1, 1]
        var mask = torch.empty(new[] { branch.shape[0], 1L, 1L }, branch.dtype, branch.device).bernoulli_(keep);
        return branch * mask / keep;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _norm1.Dispose();
            _attention.Dispose();
            _norm2.Dispose();
            _mlp.Dispose();
        }

        base.Dispose(disposing);
    }
}
