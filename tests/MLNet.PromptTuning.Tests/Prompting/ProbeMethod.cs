using MLNet.PromptTuning.Prompting;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Prompting;

/// <summary>
/// A test composite: forwards every hook to an inner method, and can record or perturb a segment after each block.
/// It is also a check that methods compose through the public hooks alone.
/// </summary>
internal sealed class ProbeMethod : PromptMethod
{
    private readonly PromptMethod _inner;

    public ProbeMethod(PromptMethod inner, BackboneDescription backbone)
        : base(new ProbeOptions(), backbone)
    {
        _inner = inner;
        register_module("inner", inner);
    }

    public string? Segment { get; init; }

    public Func<int, bool> PerturbAfterLayer { get; init; } = _ => false;

    public List<Tensor> Recorded { get; } = new();

    public override IReadOnlySet<BlockSite> UsedSites => _inner.UsedSites;

    public override void OnEmbeddings(PromptContext context) => _inner.OnEmbeddings(context);

    public override void OnBlockStarting(int layer, PromptContext context) => _inner.OnBlockStarting(layer, context);

    public override Tensor? ContributeAt(int layer, BlockSite site, Tensor residual, PromptContext context) =>
        _inner.ContributeAt(layer, site, residual, context);

    public override void OnBlockFinished(int layer, PromptContext context)
    {
        _inner.OnBlockFinished(layer, context);
        if (Segment is null)
        {
            return;
        }

        Recorded.Add(context.GetSegment(Segment).detach().clone().DetachFromDisposeScope());
        if (PerturbAfterLayer(layer))
        {
            var noise = torch.randn_like(context.GetSegment(Segment)) * 5;
            context.ReplaceSegment(Segment, context.GetSegment(Segment) + noise);
        }
    }

    public override Tensor SelectFeatures(PromptContext context) => _inner.SelectFeatures(context);

    private sealed class ProbeOptions : PromptMethodOptions
    {
        public override string MethodId => "probe";
    }
}
