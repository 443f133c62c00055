using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Backbones;

/// <summary>
/// A Vision Transformer with timm's parameter names and semantics, used as a frozen backbone. Its forward pass is one
/// fixed loop that calls the hooks of an attached <see cref="PromptMethod"/>; it never asks which method it is:
/// embed → <c>OnEmbeddings</c> → for each block (<c>OnBlockStarting</c> → block → <c>OnBlockFinished</c>) →
/// final norm → <c>SelectFeatures</c>.
/// </summary>
/// <remarks>
/// State-dict keys are exactly timm's (<c>cls_token</c>, <c>pos_embed</c>, <c>patch_embed.proj.weight</c>,
/// <c>blocks.0.attn.qkv.weight</c>, …, <c>norm.weight</c> or <c>fc_norm.weight</c>); the head is not part of the
/// backbone. The backbone has no dropout, so "evaluation mode" is its only mode; stochastic depth runs only in training
/// passes whose <see cref="TuningScope"/> asks for it.
/// </remarks>
public sealed class VisionTransformer : nn.Module
{
    [ComponentName(Name = "patch_embed")]
    private readonly PatchEmbedding _patchEmbed;

    [ComponentName(Name = "cls_token")]
    private readonly Parameter _classToken;

    [ComponentName(Name = "pos_embed")]
    private readonly Parameter _positionEmbedding;

    [ComponentName(Name = "blocks")]
    private readonly ModuleList<TransformerBlock> _blocks;

    [ComponentName(Name = "norm")]
    private readonly LayerNorm? _norm;

    [ComponentName(Name = "fc_norm")]
    private readonly LayerNorm? _fcNorm;

    /// <summary>Creates a randomly initialised backbone (timm's initialisation); load weights with the checkpoint
    /// readers.</summary>
    /// <param name="config">The architecture; validated here.</param>
    public VisionTransformer(VitConfig config)
        : base("vit")
    {
        config.Validate();
        Config = config;
        _patchEmbed = new PatchEmbedding(config);
        _classToken = new Parameter(torch.zeros(1, 1, config.EmbedDim));
        _positionEmbedding = new Parameter(torch.zeros(1, config.NumPrefixTokens + config.NumPatches, config.EmbedDim));
        _blocks = new ModuleList<TransformerBlock>(
            Enumerable.Range(0, config.Depth).Select(i => new TransformerBlock(config, i)).ToArray());
        if (config.UseFcNorm)
        {
            _fcNorm = nn.LayerNorm(config.EmbedDim, config.LayerNormEps);
        }
        else
        {
            _norm = nn.LayerNorm(config.EmbedDim, config.LayerNormEps);
        }

        RegisterComponents();
        InitializeWeights();
        Description = new BackboneDescription(config, CopyAttentionWeights, ViewAttentionWeights);
    }

    /// <summary>The architecture.</summary>
    public VitConfig Config { get; }

    /// <summary>What prompt methods may know about this backbone.</summary>
    public BackboneDescription Description { get; }

    /// <summary>
    /// When true (default) attention uses fused scaled-dot-product attention where possible; false forces the explicit
    /// softmax path everywhere. Both agree to about 1e-6; the bits differ, so keep one setting for reproducibility.
    /// </summary>
    public bool UseFusedAttention
    {
        get => _blocks[0].Attention.UseFusedAttention;
        set
        {
            foreach (var block in _blocks)
            {
                block.Attention.UseFusedAttention = value;
            }
        }
    }

    /// <summary>Pooled features of plain images with no method attached, [B, D].</summary>
    /// <param name="images">Normalised images [B, C, H, W] matching <see cref="Config"/>.</param>
    public Tensor ForwardFeatures(Tensor images)
    {
        using var scope = torch.NewDisposeScope();
        var context = Run(images, method: null, ForwardContext.Inference);
        return PoolFeatures(context).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Runs the backbone with <paramref name="method"/>'s hooks and returns the context after the final norm
    /// (tokens, layout, auxiliary losses). The caller owns the dispose scope.
    /// </summary>
    /// <param name="images">Normalised images [B, C, H, W].</param>
    /// <param name="method">The attached method, or null for a plain forward.</param>
    /// <param name="forward">Whether this is a training pass, and its epoch.</param>
    /// <param name="scope">How the backbone runs in training passes (its stochastic depth); default
    /// <see cref="TuningScope.PromptsAndHead"/>.</param>
    internal PromptContext Run(Tensor images, PromptMethod? method, ForwardContext forward, TuningScope? scope = null)
    {
        scope ??= TuningScope.PromptsAndHead;
        var patches = _patchEmbed.call(images);                                            // [B, N, D]
        long batch = patches.shape[0];
        var classTokens = _classToken.to(patches.dtype).expand(batch, -1, -1);             // [B, 1, D]
        var tokens = torch.cat(new[] { classTokens, patches }, 1) + _positionEmbedding.to(patches.dtype); // [B, 1+N, D]

        var context = new PromptContext(
            tokens, TokenLayout.Initial(Config.NumPatches), Description, forward, PoolFeatures, NormalizePooled);
        method?.OnEmbeddings(context);

        for (int layer = 0; layer < _blocks.Count; layer++)
        {
            // One scope per block frees the block's intermediates as soon as it finishes; without it an inference
            // pass holds every block's activations until the caller's scope ends (8 GB for ViT-B at batch 32).
            var incoming = context.Tokens;
            using (var blockScope = torch.NewDisposeScope())
            {
                context.Layer = layer;
                context.Attention.Reset();
                method?.OnBlockStarting(layer, context);
                double rate = scope.StochasticDepthAt(layer, _blocks.Count, forward.IsTraining);
                context.SetTokensAfterBlock(_blocks[layer].call(context.Tokens, context, method, rate));
                method?.OnBlockFinished(layer, context);
                context.Attention.Reset();
                context.KeepAliveOutside(blockScope);
            }

            // The previous block's output lives in the caller's scope; release it now rather than at the end of the
            // pass (views of it held in method state keep its storage alive, and autograd keeps its own reference).
            context.ReleaseIfUnused(incoming);
        }

        context.Layer = -1;
        if (_norm is not null)
        {
            context.SetTokensAfterBlock(_norm.call(context.Tokens));
        }

        return context;
    }

    /// <summary>Freezes (false) or unfreezes (true) every backbone parameter.</summary>
    internal void SetTrainable(bool trainable)
    {
        foreach (var parameter in parameters())
        {
            parameter.requires_grad = trainable;
        }
    }

    private Tensor PoolFeatures(PromptContext context)
    {
        var tokens = context.Tokens;                                                         // [B, T, D]
        return Config.GlobalPooling switch
        {
            GlobalPooling.ClassToken => NormalizePooled(context.GetSegment(TokenLayout.ClassTokenSegment).squeeze(1)),
            GlobalPooling.Average => NormalizePooled(
                tokens.narrow(1, context.Layout.PrefixCount, tokens.shape[1]
                    - context.Layout.PrefixCount).mean(new long[] { 1 })),
            _ => throw new NotSupportedException($"GlobalPooling {Config.GlobalPooling} is not supported."),
        };
    }

    private Tensor NormalizePooled(Tensor pooled) => _fcNorm is null ? pooled : _fcNorm.call(pooled);

    private FrozenAttentionWeights CopyAttentionWeights(int layer)
    {
        var attention = _blocks[layer].Attention;
        using var noGrad = torch.no_grad();
        return new FrozenAttentionWeights(
            attention.Qkv.weight!.detach().clone(),
            attention.Qkv.bias?.detach().clone(),
            attention.Proj.weight!.detach().clone(),
            attention.Proj.bias!.detach().clone());
    }

    private FrozenAttentionWeights ViewAttentionWeights(int layer)
    {
        var attention = _blocks[layer].Attention;
        return new FrozenAttentionWeights(
            attention.Qkv.weight!.detach(),
            attention.Qkv.bias?.detach(),
            attention.Proj.weight!.detach(),
            attention.Proj.bias!.detach());
    }

    private void InitializeWeights()
    {
        using var noGrad = torch.no_grad();
        TruncatedNormal.Fill(_positionEmbedding, std: 0.02);
        nn.init.normal_(_classToken, std: 1e-6);
        foreach (var (_, module) in named_modules())
        {
            if (module is Linear linear)
            {
                TruncatedNormal.Fill(linear.weight!, std: 0.02);
                if (linear.bias is not null)
                {
                    nn.init.zeros_(linear.bias);
                }
            }
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _patchEmbed.Dispose();
            _classToken.Dispose();
            _positionEmbedding.Dispose();
            _blocks.Dispose();
            _norm?.Dispose();
            _fcNorm?.Dispose();
        }

        base.Dispose(disposing);
    }
}
