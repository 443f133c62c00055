using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Methods.Tcpa;

/// <summary>
/// Token Coordinated Prompt Attention. Every block has a class-prompt pool and an image-prompt pool; all their prompts
/// join the block's attention as extra keys and values only (through the block's norm1 and frozen k/v projection),
/// never as queries. A 0/1 mask over [B, H, T, T + P] decides who sees what: class tokens see only class prompts,
/// patch tokens only image prompts (role level), and each token only the k entries whose learnable keys are most
/// cosine-similar to its state entering the block (token level). A pull loss draws the selected keys towards their
/// tokens. Follows <c>models/VFPT_TCPA.py</c> and <c>models/TCPA.py</c> of the official code.
/// </summary>
/// <remarks>
/// The mask is built over the <see cref="TokenLayout"/>: rows of prefix segments use the class pool, rows of patch
/// segments the image pool, and rows of other prompt segments (VPT tokens, here or from another method) see no pool
/// prompt. Every row sees every token of the sequence itself.
/// </remarks>
public sealed partial class TcpaMethod : PromptMethod
{
    /// <summary>Name of the VPT-Deep token segment when <see cref="TcpaOptions.VptPromptLength"/> &gt; 0.</summary>
    public const string VptSegment = "tcpa_vpt";

    /// <summary>Name of the key-pull auxiliary loss.</summary>
    public const string PullLossName = "tcpa.pull";

    private const string ClassPoolName = "Pool_cls";
    private const string ImagePoolName = "Pool_image";

    [ComponentName(Name = "Pool")]
    private readonly KeyedModules<TcpaPromptPool> _pool;

    [ComponentName(Name = "vpt_prompts")]
    private readonly Parameter? _vptPrompts;

    private readonly TcpaOptions _options;

    /// <summary>Creates TCPA bound to <paramref name="backbone"/>.</summary>
    public TcpaMethod(TcpaOptions options, BackboneDescription backbone)
        : base(options, backbone)
    {
        _options = options;
        bool withKeys = options.Coordination == TcpaCoordination.RoleAndToken;
        _pool = new KeyedModules<TcpaPromptPool>();
        int depth = backbone.Depth, width = backbone.EmbedDim;
        _pool.Add(ClassPoolName, new TcpaPromptPool(
            ClassPoolName, depth, options.ClassPoolSize, options.ClassPromptLength, width, withKeys));
        _pool.Add(ImagePoolName, new TcpaPromptPool(
            ImagePoolName, depth, options.ImagePoolSize, options.ImagePromptLength, width, withKeys));
        if (options.VptPromptLength > 0)
        {
            double bound = VptMethod.InitBound(backbone);
            _vptPrompts = NewParameter(
                torch.empty(depth, options.VptPromptLength, width).uniform_(-bound, bound));          // [L, Pv, D]
        }

        RegisterComponents();
    }

    private TcpaPromptPool ClassPool => _pool.Get(ClassPoolName);

    private TcpaPromptPool ImagePool => _pool.Get(ImagePoolName);

    /// <inheritdoc/>
    public override void OnEmbeddings(PromptContext context)
    {
        if (_vptPrompts is not null)
        {
            context.InsertSegment(VptSegment, PrepareVptTokens(0, context));
        }
    }

    /// <inheritdoc/>
    public override void OnBlockStarting(int layer, PromptContext context)
    {
        if (_vptPrompts is not null && layer >= 1)
        {
            context.ReplaceSegment(VptSegment, PrepareVptTokens(layer, context));
        }

        // Every prompt of both pools is a key/value at every layer; selection acts only through the mask.
        context.Attention.SetExtraKeyValues(PoolPrompts(layer, context));
        if (_options.Coordination == TcpaCoordination.None)
        {
            return;
        }

        var visible = Visibility(layer, context);                                                // [B, 1, T, T+P]
        if (_options.MaskMode == TcpaMaskMode.PostSoftmaxMultiply)
        {
            context.Attention.MultiplyPostSoftmaxMask(visible);
        }
        else
        {
            context.Attention.AddBias(torch.zeros_like(visible).masked_fill(visible.eq(0), double.NegativeInfinity));
        }
    }

    /// <inheritdoc/>
    public override void OnBlockFinished(int layer, PromptContext context)
    {
        if (layer == Backbone.Depth - 1 && _options.PullLossWeight > 0 && context.GetState(PullLossName) is { } pull)
        {
            context.AddAuxiliaryLoss(PullLossName, pull, _options.PullLossWeight);
        }
    }

    /// <summary>Layer <paramref name="layer"/>'s pool prompts, class pool first, [B or 1, P_c + P_i, D].</summary>
    private Tensor PoolPrompts(int layer, PromptContext context)
    {
        var prompts = torch.cat(new[] { ClassPool.PromptsOf(layer), ImagePool.PromptsOf(layer) }, 0)
            .unsqueeze(0);                                                                       // [1, P, D]
        if (context.IsTraining && _options.Dropout > 0)
        {
            // Broadcast first so each sample draws its own dropout mask, as the official code does.
            var batch = prompts.expand(context.BatchSize, -1, -1);                                // [B, P, D]
            prompts = nn.functional.dropout(batch, _options.Dropout, training: true);
        }

        if (_options.FourierPrompts)
        {
            // VFPT: real part of the 2-D DFT over (prompt tokens, channels), computed in float32.
            prompts = torch.fft.fft2(prompts).real;
        }

        return context.ToCompute(prompts);
    }

    /// <summary>
    /// Which pool prompt each row of the current layout may see, with every sequence token visible,
    /// [B, 1, T, T + P] in the pass's element type (identical across heads). Records the pull distance.
    /// </summary>
    private Tensor Visibility(int layer, PromptContext context)
    {
        var layout = context.Layout;
        long batch = context.BatchSize, count = layout.Count;
        int classTokens = ClassPool.TokenCount, imageTokens = ImagePool.TokenCount;
        var dtype = context.ComputeType;
        var device = context.Device;

        var classRows = Rows(context, TokenRole.Prefix);                                         // [B, Nc, D]
        var imageRows = Rows(context, TokenRole.Patches);                                        // [B, N, D]
        Tensor? classVisible = null, imageVisible = null;
        if (_options.Coordination == TcpaCoordination.RoleAndToken)
        {
            bool random = context.IsTraining && context.Epoch < _options.RandomSelectionEpochs;
            Tensor? pull = context.GetState(PullLossName);
            if (classRows is not null)
            {
                (classVisible, var distance) = Select(ClassPool, _options.ClassTopK, layer, classRows, random, dtype);
                pull = pull is null ? distance : pull + distance;
            }

            if (imageRows is not null)
            {
                (imageVisible, var distance) = Select(ImagePool, _options.ImageTopK, layer, imageRows, random, dtype);
                pull = pull is null ? distance : pull + distance;
            }

            if (pull is not null)
            {
                context.SetState(PullLossName, pull);
            }
        }
        else
        {
            classVisible = classRows is null ? null : torch.ones(batch, classRows.shape[1], classTokens, dtype, device);
            imageVisible = imageRows is null ? null : torch.ones(batch, imageRows.shape[1], imageTokens, dtype, device);
        }

        // Pool columns are class prompts then image prompts; rows follow the layout's segments in order.
        var rows = new List<Tensor>();
        int classUsed = 0, imageUsed = 0;
        foreach (var segment in layout.Segments)
        {
            int length = segment.Length;
            switch (segment.Role)
            {
                case TokenRole.Prefix:
                    rows.Add(torch.cat(new[]
                    {
                        classVisible!.narrow(1, classUsed, length),
                        torch.zeros(batch, length, imageTokens, dtype, device),
                    }, 2));
                    classUsed += length;
                    break;
                case TokenRole.Patches:
                    rows.Add(torch.cat(new[]
                    {
                        torch.zeros(batch, length, classTokens, dtype, device),
                        imageVisible!.narrow(1, imageUsed, length),
                    }, 2));
                    imageUsed += length;
                    break;
                default:
                    rows.Add(torch.zeros(batch, length, classTokens + imageTokens, dtype, device));
                    break;
            }
        }

        var poolColumns = torch.cat(rows, 1);                                                    // [B, T, P]
        return torch.cat(new[] { torch.ones(batch, count, count, dtype, device), poolColumns }, 2).unsqueeze(1);
    }

    private static (Tensor Visible, Tensor Distance) Select(
        TcpaPromptPool pool, int topK, int layer, Tensor rows, bool random, ScalarType dtype)
    {
        long batch = rows.shape[0], perImage = rows.shape[1];
        var (indices, distance) = TcpaSelection.Match(
            pool.Keys![layer], rows.reshape(batch * perImage, rows.shape[2]), topK, random);        // [B·n, k]
        var visible = TcpaSelection.Visibility(indices, pool.Size, pool.Length, dtype);           // [B·n, K·ℓ]
        return (visible.view(batch, perImage, pool.TokenCount), distance);
    }

    /// <summary>The tokens of every segment with <paramref name="role"/>, in order, [B, n, D]; null if none.</summary>
    private static Tensor? Rows(PromptContext context, TokenRole role)
    {
        var ranges = context.Layout.RangesOf(role).ToList();
        return ranges.Count == 0
            ? null
            : torch.cat(ranges.Select(r => context.Tokens.narrow(1, r.Start, r.Length)).ToArray(), 1);
    }

    private Tensor PrepareVptTokens(int layer, PromptContext context)
    {
        var tokens = context.ToCompute(_vptPrompts![layer]).unsqueeze(0)
            .expand(context.BatchSize, -1, -1);                                                  // [B, Pv, D]
        return context.IsTraining && _options.Dropout > 0
            ? nn.functional.dropout(tokens, _options.Dropout, training: true)
            : tokens;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _pool.Dispose();
            _vptPrompts?.Dispose();
        }

        base.Dispose(disposing);
    }
}
