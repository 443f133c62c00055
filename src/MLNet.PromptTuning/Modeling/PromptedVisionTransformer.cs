using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Runtime;
using MLNet.PromptTuning.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Modeling;

/// <summary>
/// A frozen backbone, one prompt method and a linear head: the model that prompt tuning trains. Its own state-dict keys
/// are <c>prompt.&lt;id&gt;.*</c> and <c>head.*</c>, plus <c>backbone.*</c> (timm names) when it owns its backbone;
/// a shared frozen backbone stays outside the model's state so several models can use one copy in memory. What trains
/// is the model's <see cref="Scope"/>: the method's and the head's parameters, and the backbone's own when the scope
/// says so (full fine-tuning).
/// </summary>
public sealed class PromptedVisionTransformer : nn.Module, ITrainableClassifier, IFrozenFeatureClassifier
{
    private readonly VisionTransformer _backbone;
    private readonly KeyedModules<PromptMethod> _prompt;
    private readonly Linear _head;

    private readonly PromptMethod _method;
    private readonly bool _ownsBackbone;

    /// <summary>Creates the model.</summary>
    /// <param name="backbone">The pretrained backbone. A scope that trains the backbone gets a private copy.</param>
    /// <param name="methodOptions">Which method, with its options (resolved in <see
    /// cref="PromptMethodRegistry"/>).</param>
    /// <param name="numberOfClasses">Number of classes, at least 2.</param>
    /// <param name="ownsBackbone">Whether disposing this model disposes <paramref name="backbone"/>.</param>
    /// <param name="headInitialization">How the head's weights start; see <see cref="HeadInitialization"/>.</param>
    /// <param name="scope">What trains; default the one the method's options propose
    /// (<see cref="PromptMethodOptions.Scope"/>).</param>
    public PromptedVisionTransformer(
        VisionTransformer backbone,
        PromptMethodOptions methodOptions,
        int numberOfClasses,
        bool ownsBackbone = false,
        HeadInitialization headInitialization = HeadInitialization.SmallTruncatedNormal,
        TuningScope? scope = null)
        : base("prompted_vit")
    {
        ArgumentNullException.ThrowIfNull(backbone);
        ArgumentNullException.ThrowIfNull(methodOptions);
        if (numberOfClasses < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(numberOfClasses), numberOfClasses,
                "A classifier needs at least 2 classes.");
        }

        if (!Enum.IsDefined(headInitialization))
        {
            throw new ArgumentOutOfRangeException(nameof(headInitialization), headInitialization,
                $"Expected one of: {string.Join(", ", Enum.GetNames<HeadInitialization>())}.");
        }

        // The method validates its options first, so an option that also shapes the scope is reported by its name.
        _method = PromptMethodRegistry.Default.Create(methodOptions, backbone.Description);
        Scope = scope ?? methodOptions.Scope;
        try
        {
            Scope.Validate();
        }
        catch
        {
            _method.Dispose();
            throw;
        }
        if (Scope.TrainsBackbone && !ownsBackbone)
        {
            // Training would change a backbone other models may share: train a private copy instead.
            backbone = BackboneCopy.Of(backbone);
            ownsBackbone = true;
        }

        _backbone = backbone;
        _ownsBackbone = ownsBackbone;
        _prompt = new KeyedModules<PromptMethod>();
        _prompt.Add(_method.Id, _method);
        _head = ClassifierHead.Create(backbone.Config.EmbedDim, numberOfClasses, headInitialization);
        NumberOfClasses = numberOfClasses;

        // Registered explicitly: a shared backbone is not a child of this model, so disposing or saving the model's
        // state leaves it alone; a private (trained) copy is, under timm's names prefixed by "backbone.".
        if (_ownsBackbone)
        {
            register_module("backbone", _backbone);
        }

        register_module("prompt", _prompt);
        register_module("head", _head);
        _backbone.SetTrainable(Scope.TrainsBackbone);
    }

    /// <summary>What trains (head and method always; the backbone when the scope says so) and the backbone's
    /// stochastic depth in training passes.</summary>
    public TuningScope Scope { get; }

    /// <inheritdoc/>
    public TrainingDefaults TrainingDefaults => _method.Options.TrainingDefaults;

    /// <summary>The backbone (frozen unless the scope trains it).</summary>
    public VisionTransformer Backbone => _backbone;

    /// <summary>The attached prompt method.</summary>
    public PromptMethod Method => _method;

    /// <inheritdoc/>
    public nn.Module Module => this;

    /// <inheritdoc/>
    public int NumberOfClasses { get; }

    /// <inheritdoc/>
    public ImagePreprocessing Preprocessing => _backbone.Config.Preprocessing;

    /// <summary>
    /// Element type the backbone computes in: float32 (default) or bfloat16. Method parameters and the head stay
    /// float32; methods cast their tensors per pass, and logits are float32 either way.
    /// </summary>
    public ScalarType ComputePrecision { get; private set; } = ScalarType.Float32;

    /// <summary>Switches the frozen backbone to <paramref name="precision"/> (float32 or bfloat16).</summary>
    public void SetComputePrecision(ScalarType precision)
    {
        if (precision != ScalarType.Float32 && precision != ScalarType.BFloat16)
        {
            throw new ArgumentOutOfRangeException(nameof(precision), precision, "Expected Float32 or BFloat16.");
        }

        if (precision == ScalarType.BFloat16 && Scope.TrainsBackbone)
        {
            throw new NotSupportedException(
                "bfloat16 compute keeps float32 master weights only for prompt and head parameters; a scope that " +
                "trains the backbone (full fine-tuning) needs Precision = Float32.");
        }

        _backbone.to(precision);
        ComputePrecision = precision;
    }

    /// <summary>True when the backbone belongs to this model (created for it, or a private copy for full
    /// fine-tuning).</summary>
    public bool OwnsBackbone => _ownsBackbone;

    /// <inheritdoc/>
    public void MoveTo(Device device)
    {
        if (!_ownsBackbone)
        {
            _backbone.to(device);
        }

        this.to(device);
    }

    /// <inheritdoc/>
    public ClassifierOutput Forward(Tensor images, ForwardContext context)
    {
        var input = images.dtype == ComputePrecision ? images : images.to(ComputePrecision);
        var promptContext = _backbone.Run(input, _method, context, Scope);
        var features = _method.SelectFeatures(promptContext);                            // [B, D]
        var logits = _head.call(features.to(ScalarType.Float32));                         // [B, C]
        return new ClassifierOutput(logits, promptContext.AuxiliaryLosses);
    }

    /// <inheritdoc/>
    bool IFrozenFeatureClassifier.HasFrozenFeatures =>
        _method.FeaturesDependOnImageOnly && !Scope.TrainsBackbone && Scope.BackboneStochasticDepthRate == 0;

    /// <inheritdoc/>
    Tensor IFrozenFeatureClassifier.ComputeFeatures(Tensor images, ForwardContext context)
    {
        using var noGrad = torch.no_grad();
        var input = images.dtype == ComputePrecision ? images : images.to(ComputePrecision);
        var promptContext = _backbone.Run(input, _method, context, Scope);
        return _method.SelectFeatures(promptContext).to(ScalarType.Float32); // [B, D]
    }

    /// <inheritdoc/>
    Tensor IFrozenFeatureClassifier.Classify(Tensor features) => _head.call(features);

    /// <summary>Logits for normalised images in evaluation mode, without gradients, [B, C].</summary>
    public Tensor Predict(Tensor images)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        return Forward(images, ForwardContext.Inference).Logits.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public IReadOnlyList<ParameterGroup> GetParameterGroups()
    {
        var groups = _method.GetParameterGroups().ToList();
        if (Scope.TrainsBackbone)
        {
            // timm's convention: no weight decay on 1-D tensors (norms, biases) nor on the class/position embeddings.
            var named = _backbone.named_parameters().ToList();
            static bool NoDecay((string name, Parameter parameter) p) =>
                p.parameter.dim() <= 1 || p.name is "cls_token" or "pos_embed";
            groups.Add(new ParameterGroup("backbone", named.Where(p => !NoDecay(p)).Select(p => p.parameter).ToList()));
            groups.Add(new ParameterGroup(
                "backbone.no_decay", named.Where(NoDecay).Select(p => p.parameter).ToList(), ApplyWeightDecay: false));
        }

        // The VPT codebase exempts only the head bias from weight decay.
        groups.Add(new ParameterGroup("head", new[] { _head.weight! }));
        groups.Add(new ParameterGroup("head.bias", new[] { _head.bias! }, ApplyWeightDecay: false));
        return groups;
    }

    /// <summary>Number of trainable parameters (method, head, and backbone when the scope trains it).</summary>
    public long CountTrainableParameters() =>
        GetParameterGroups().SelectMany(g => g.Parameters).Sum(p => p.numel());

    /// <inheritdoc/>
    public void SetTrainingMode(bool training)
    {
        train(training);
        // The backbone has no dropout; stochastic depth is driven by the scope and the forward context, so the
        // backbone is kept in evaluation mode regardless (VPT's train() override).
        _backbone.eval();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _head.Dispose();
            _method.Dispose();
            if (_ownsBackbone)
            {
                _backbone.Dispose();
            }
        }

        base.Dispose(disposing);
    }
}
