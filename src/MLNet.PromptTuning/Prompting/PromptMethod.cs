using MLNet.PromptTuning.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Prompting;

/// <summary>
/// The one extension point for prompt methods. A method is a TorchSharp module that owns its parameters and
/// receives hooks from the frozen backbone's fixed forward loop:
/// <c>OnEmbeddings</c>, then for every block <c>OnBlockStarting</c> → block (offering <see cref="ContributeAt"/> at
/// each site in <see cref="UsedSites"/>, and consuming <see cref="PromptContext.Attention"/>) →
/// <c>OnBlockFinished</c>, then the final norm and <see cref="SelectFeatures"/>. Every hook does nothing by default;
/// the backbone never asks which method is attached.
/// </summary>
/// <remarks>
/// Binding happens in the constructor: a method receives the <see cref="BackboneDescription"/> there, validates its
/// options against it, creates parameters sized to it and ends with <c>RegisterComponents()</c>.
/// </remarks>
public abstract class PromptMethod : nn.Module
{
    private static readonly IReadOnlySet<BlockSite> NoSites = new HashSet<BlockSite>();

    /// <summary>Binds the method to a backbone.</summary>
    /// <param name="options">The method's options; validated here against <paramref name="backbone"/>.</param>
    /// <param name="backbone">The frozen backbone's description.</param>
    protected PromptMethod(PromptMethodOptions options, BackboneDescription backbone)
        : base(options.MethodId)
    {
        options.Validate(backbone);
        Options = options;
        Backbone = backbone;
    }

    /// <summary>Registry id, also the parameter prefix <c>prompt.&lt;id&gt;.</c> in model files.</summary>
    public string Id => Options.MethodId;

    /// <summary>The options this method was created with.</summary>
    public PromptMethodOptions Options { get; }

    /// <summary>The backbone this method is bound to.</summary>
    protected BackboneDescription Backbone { get; }

    /// <summary>The block sites this method contributes at; the backbone offers no others (zero cost when
    /// empty).</summary>
    public virtual IReadOnlySet<BlockSite> UsedSites => NoSites;

    /// <summary>After patch and position embedding, before block 0: insert shallow prompts or edit the input.</summary>
    public virtual void OnEmbeddings(PromptContext context)
    {
    }

    /// <summary>Before block <paramref name="layer"/>: change prompt segments, read tokens, fill attention
    /// extras.</summary>
    public virtual void OnBlockStarting(int layer, PromptContext context)
    {
    }

    /// <summary>
    /// A side branch at <paramref name="site"/> inside block <paramref name="layer"/>, given the residual stream
    /// <paramref name="residual"/> there; the returned tensor (same shape) is added as <see cref="BlockSite"/>
    /// describes. Return null to add nothing.
    /// </summary>
    public virtual Tensor? ContributeAt(int layer, BlockSite site, Tensor residual, PromptContext context) => null;

    /// <summary>After block <paramref name="layer"/>: drop segments, update carried state, record auxiliary
    /// losses.</summary>
    public virtual void OnBlockFinished(int layer, PromptContext context)
    {
    }

    /// <summary>
    /// True when the features this method hands to the head depend on the image alone: no trainable parameter, no
    /// randomness, nothing that changes with the epoch or the training mode. Without augmentation the trainer then
    /// computes each image's features once and trains the head on the stored features in later epochs. Default
    /// false.
    /// </summary>
    public virtual bool FeaturesDependOnImageOnly => false;

    /// <summary>The features fed to the head, [B, D]. Defaults to the backbone's own pooling.</summary>
    public virtual Tensor SelectFeatures(PromptContext context) => context.PoolWithBackbone();

    /// <summary>
    /// The method's trainable parameters grouped by optimiser settings. The default is one group with every parameter
    /// of this module, weight decay applied.
    /// </summary>
    public virtual IEnumerable<ParameterGroup> GetParameterGroups()
    {
        var parameters = this.parameters().ToList();
        if (parameters.Count > 0)
        {
            yield return new ParameterGroup($"prompt.{Id}", parameters);
        }
    }

    /// <summary>Creates a trainable parameter from <paramref name="values"/> (helper for derived classes).</summary>
    protected static Parameter NewParameter(Tensor values) => new(values, requires_grad: true);
}
