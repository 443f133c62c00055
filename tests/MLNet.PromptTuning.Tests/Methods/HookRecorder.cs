using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Methods;

/// <summary>
/// A test composite that forwards every hook to an inner method and lets a test look at (or edit) the context
/// before and after each of the inner method's hooks: recorded tensors must be cloned and detached from the pass's
/// dispose scopes by the callback (see <see cref="Keep"/>).
/// </summary>
internal sealed class HookRecorder : PromptMethod
{
    private readonly PromptMethod _inner;

    public HookRecorder(PromptMethod inner, BackboneDescription backbone)
        : base(new RecorderOptions(), backbone)
    {
        _inner = inner;
    }

    public Action<PromptContext>? AfterEmbeddings { get; init; }

    public Action<int, PromptContext>? BeforeBlockStarting { get; init; }

    public Action<int, PromptContext>? AfterBlockStarting { get; init; }

    public Action<int, PromptContext>? BeforeBlockFinished { get; init; }

    public Action<int, PromptContext>? AfterBlockFinished { get; init; }

    public override IReadOnlySet<BlockSite> UsedSites => _inner.UsedSites;

    /// <summary>A clone of <paramref name="tensor"/> that outlives the forward pass's scopes.</summary>
    public static Tensor Keep(Tensor tensor) => tensor.detach().clone().DetachFromDisposeScope();

    /// <summary>Logits of <paramref name="model"/>'s head on the features <paramref name="method"/> selects, no
    /// grad.</summary>
    public static Tensor LogitsWith(PromptedVisionTransformer model, PromptMethod method, Tensor images)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var context = model.Backbone.Run(images, method, ForwardContext.Inference);
        var features = method.SelectFeatures(context);
        var sd = model.state_dict();
        return nn.functional.linear(features, sd["head.weight"], sd["head.bias"]).MoveToOuterDisposeScope();
    }

    public override void OnEmbeddings(PromptContext context)
    {
        _inner.OnEmbeddings(context);
        AfterEmbeddings?.Invoke(context);
    }

    public override void OnBlockStarting(int layer, PromptContext context)
    {
        BeforeBlockStarting?.Invoke(layer, context);
        _inner.OnBlockStarting(layer, context);
        AfterBlockStarting?.Invoke(layer, context);
    }

    public override Tensor? ContributeAt(int layer, BlockSite site, Tensor residual, PromptContext context) =>
        _inner.ContributeAt(layer, site, residual, context);

    public override void OnBlockFinished(int layer, PromptContext context)
    {
        BeforeBlockFinished?.Invoke(layer, context);
        _inner.OnBlockFinished(layer, context);
        AfterBlockFinished?.Invoke(layer, context);
    }

    public override Tensor SelectFeatures(PromptContext context) => _inner.SelectFeatures(context);

    private sealed class RecorderOptions : PromptMethodOptions
    {
        public override string MethodId => "recorder";
    }
}
