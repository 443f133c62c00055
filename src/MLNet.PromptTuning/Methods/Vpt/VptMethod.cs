using MLNet.PromptTuning.Prompting;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Methods.Vpt;

/// <summary>
/// Visual Prompt Tuning: P learnable tokens inserted between the class token and the patches. Shallow inserts them
/// once; Deep replaces them with a fresh learned set before every block, discarding the previous block's prompt
/// outputs. Prompts have no position embedding. Follows KMnP/vpt (<c>src/models/vit_prompt/vit.py</c>).
/// </summary>
public sealed partial class VptMethod : PromptMethod
{
    /// <summary>Name of the prompt segment in the token layout.</summary>
    public const string Segment = "vpt";

    [ComponentName(Name = "prompt_embeddings")]
    private readonly Parameter _prompts;

    [ComponentName(Name = "deep_prompt_embeddings")]
    private readonly Parameter? _deepPrompts;

    private readonly VptOptions _options;

    /// <summary>Creates VPT bound to <paramref name="backbone"/>.</summary>
    public VptMethod(VptOptions options, BackboneDescription backbone)
        : base(options, backbone)
    {
        _options = options;
        // The official "random" init: uniform with Xavier's bound for a (channels·patch·patch → D) map;
        // 0.0625 exactly for ViT-B/16 on RGB.
        double bound = InitBound(backbone);
        _prompts = NewParameter(torch.empty(1, options.PromptLength, backbone.EmbedDim).uniform_(-bound, bound));
        if (options.Depth == VptDepth.Deep && backbone.Depth > 1)
        {
            _deepPrompts = NewParameter(
                torch.empty(backbone.Depth - 1, options.PromptLength, backbone.EmbedDim).uniform_(-bound, bound));
        }

        RegisterComponents();
    }

    /// <summary>The uniform initialisation bound sqrt(6 / (C·p·p + D)) for a backbone.</summary>
    public static double InitBound(BackboneDescription backbone) =>
        Math.Sqrt(6.0 / (backbone.InChannels * backbone.PatchSize * backbone.PatchSize + backbone.EmbedDim));

    /// <inheritdoc/>
    public override void OnEmbeddings(PromptContext context) =>
        context.InsertSegment(Segment, PreparePrompts(_prompts, context));

    /// <inheritdoc/>
    public override void OnBlockStarting(int layer, PromptContext context)
    {
        if (layer >= 1 && _deepPrompts is not null)
        {
            context.ReplaceSegment(Segment, PreparePrompts(_deepPrompts[layer - 1].unsqueeze(0), context));
        }
    }

    /// <inheritdoc/>
    public override Tensor SelectFeatures(PromptContext context) => _options.Pooling switch
    {
        VptPooling.Backbone => context.PoolWithBackbone(),
        VptPooling.PatchMean => context.NormalizePooled(MeanOf(context, TokenLayout.PatchSegment)),
        VptPooling.PromptMean => context.NormalizePooled(MeanOf(context, Segment)),
        VptPooling.PromptAndPatchMean => context.NormalizePooled(
            torch.cat(new[] { context.GetSegment(Segment), context.GetSegment(TokenLayout.PatchSegment) },
                1).mean(new long[] { 1 })),
        _ => throw new NotSupportedException($"VptOptions.Pooling {_options.Pooling} is not supported."),
    };

    private static Tensor MeanOf(PromptContext context, string segment) =>
        context.GetSegment(segment).mean(new long[] { 1 });

    private Tensor PreparePrompts(Tensor prompts, PromptContext context)
    {
        // Broadcast first so each sample draws its own dropout mask, as the official code does.
        var batch = context.ToCompute(prompts).expand(context.BatchSize, -1, -1);          // [B, P, D]
        double rate = _options.EffectiveDropout;
        return rate > 0 && context.IsTraining ? nn.functional.dropout(batch, rate, training: true) : batch;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _prompts.Dispose();
            _deepPrompts?.Dispose();
        }

        base.Dispose(disposing);
    }
}
