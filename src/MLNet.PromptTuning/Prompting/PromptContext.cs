using MLNet.PromptTuning.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Prompting;

/// <summary>
/// The state of one forward pass, handed to every hook of a <see cref="PromptMethod"/>: the current tokens and their
/// named layout, this block's attention extras, per-method state carried across blocks, and auxiliary losses.
/// Created inside the caller's dispose scope and never kept after the pass.
/// </summary>
public sealed class PromptContext
{
    private readonly Dictionary<string, Tensor> _state = new(StringComparer.Ordinal);
    private readonly List<AuxiliaryLoss> _auxiliaryLosses = new();
    private Tensor _tokens;

    private readonly Func<PromptContext, Tensor> _backbonePooling;
    private readonly Func<Tensor, Tensor> _pooledNorm;

    internal PromptContext(
        Tensor tokens,
        TokenLayout layout,
        BackboneDescription backbone,
        ForwardContext forward,
        Func<PromptContext, Tensor> backbonePooling,
        Func<Tensor, Tensor> pooledNorm)
    {
        _backbonePooling = backbonePooling;
        _pooledNorm = pooledNorm;
        _tokens = tokens;
        Layout = layout;
        Backbone = backbone;
        IsTraining = forward.IsTraining;
        Epoch = forward.Epoch;
    }

    /// <summary>The current token sequence, [B, T, D] with T = <see cref="TokenLayout.Count"/>.</summary>
    public Tensor Tokens => _tokens;

    /// <summary>Where each named segment sits in <see cref="Tokens"/>.</summary>
    public TokenLayout Layout { get; private set; }

    /// <summary>Requests for the self-attention of the block about to run; cleared before every block.</summary>
    public AttentionExtras Attention { get; } = new();

    /// <summary>The backbone's dimensions.</summary>
    public BackboneDescription Backbone { get; }

    /// <summary>Index of the block being run, or -1 before the first block and after the last.</summary>
    public int Layer { get; internal set; } = -1;

    /// <summary>True for a training step (prompt dropout and random phases apply).</summary>
    public bool IsTraining { get; }

    /// <summary>Zero-based training epoch, or -1 outside training.</summary>
    public int Epoch { get; }

    /// <summary>Number of images in the batch.</summary>
    public long BatchSize => _tokens.shape[0];

    /// <summary>Device the forward pass runs on.</summary>
    public Device Device => _tokens.device;

    /// <summary>Element type of the forward computation (float32, or bfloat16 in reduced precision).</summary>
    public ScalarType ComputeType => _tokens.dtype;

    /// <summary>Auxiliary losses recorded during this pass.</summary>
    public IReadOnlyList<AuxiliaryLoss> AuxiliaryLosses => _auxiliaryLosses;

    /// <summary>Casts a method-owned tensor (a parameter, typically) to the device and element type of this
    /// pass.</summary>
    public Tensor ToCompute(Tensor tensor) =>
        tensor.device == Device && tensor.dtype == ComputeType ? tensor : tensor.to(ComputeType, Device);

    /// <summary>Replaces the whole sequence with a tensor of the same shape (same layout).</summary>
    public void SetTokens(Tensor tokens)
    {
        if (!tokens.shape.SequenceEqual(_tokens.shape))
        {
            throw new ArgumentException(
                $"SetTokens keeps the layout, so the shape must stay [{string.Join(", ", _tokens.shape)}]; " +
                $"got [{string.Join(", ", tokens.shape)}]. Use InsertSegment/ReplaceSegment/RemoveSegment to change " +
                $"it.",
                nameof(tokens));
        }

        _tokens = tokens;
    }

    /// <summary>Sets the sequence produced by a block or the final norm (same layout; the backbone's own
    /// step).</summary>
    internal void SetTokensAfterBlock(Tensor tokens) => _tokens = tokens;

    /// <summary>The tokens of the named segment, [B, length, D] (a view).</summary>
    public Tensor GetSegment(string name) =>
        _tokens.narrow(1, Layout.OffsetOf(name), Layout[name].Length);

    /// <summary>Inserts a new segment of tokens [B, P, D] (or [1, P, D], broadcast over the batch).</summary>
    public void InsertSegment(string name, Tensor tokens, SegmentPosition position = SegmentPosition.AfterPrefix)
    {
        Tensor segment = BroadcastToBatch(tokens, nameof(tokens));
        var layout = Layout.Insert(new TokenSegment(name, TokenRole.Prompt, (int)segment.shape[1]), position);
        int at = layout.OffsetOf(name);
        _tokens = torch.cat(new[] { _tokens.narrow(1, 0, at), segment, _tokens.narrow(1, at, _tokens.shape[1] - at) },
            1);
        Layout = layout;
    }

    /// <summary>Replaces the named segment with new tokens [B, P', D]; the length may change.</summary>
    public void ReplaceSegment(string name, Tensor tokens)
    {
        Tensor segment = BroadcastToBatch(tokens, nameof(tokens));
        int offset = Layout.OffsetOf(name);
        int oldLength = Layout[name].Length;
        long after = _tokens.shape[1] - offset - oldLength;
        _tokens = torch.cat(new[]
        {
            _tokens.narrow(1, 0, offset), segment, _tokens.narrow(1, offset + oldLength, after),
        }, 1);
        Layout = Layout.Resize(name, (int)segment.shape[1]);
    }

    /// <summary>Removes the named segment from the sequence.</summary>
    public void RemoveSegment(string name)
    {
        int offset = Layout.OffsetOf(name);
        int length = Layout[name].Length;
        _tokens = torch.cat(new[]
        {
            _tokens.narrow(1, 0, offset), _tokens.narrow(1, offset + length, _tokens.shape[1] - offset - length),
        }, 1);
        Layout = Layout.Remove(name);
    }

    /// <summary>The backbone's own pooling of the final tokens (class token, or mean of non-prefix tokens), [B,
    /// D].</summary>
    public Tensor PoolWithBackbone() => _backbonePooling(this);

    /// <summary>
    /// Applies the backbone's post-pooling LayerNorm (<c>fc_norm</c>) when it has one; identity otherwise. Methods
    /// that pool differently call this so their features are normalised like the backbone's.
    /// </summary>
    public Tensor NormalizePooled(Tensor pooled) => _pooledNorm(pooled);

    /// <summary>Stores a tensor under <paramref name="key"/> for later hooks of the same pass (LSPT's LSTM
    /// state).</summary>
    public void SetState(string key, Tensor value) => _state[key] = value;

    /// <summary>The tensor stored under <paramref name="key"/>, or null.</summary>
    public Tensor? GetState(string key) => _state.TryGetValue(key, out var value) ? value : null;

    /// <summary>Records an auxiliary loss; the trainer adds <paramref name="weight"/> × <paramref name="value"/> to the
    /// objective.</summary>
    public void AddAuxiliaryLoss(string name, Tensor value, double weight) =>
        _auxiliaryLosses.Add(new AuxiliaryLoss(name, value * weight));

    /// <summary>
    /// Moves every tensor the pass still needs (tokens, state, losses, pending attention extras) out of a per-block
    /// dispose scope, so that scope can free the block's intermediates.
    /// </summary>
    internal void KeepAliveOutside(DisposeScope blockScope)
    {
        Keep(blockScope, _tokens);
        foreach (var value in _state.Values)
        {
            Keep(blockScope, value);
        }

        foreach (var loss in _auxiliaryLosses)
        {
            Keep(blockScope, loss.Value);
        }
    }

    /// <summary>Disposes a superseded token tensor unless the context still refers to that very object.</summary>
    internal void ReleaseIfUnused(Tensor superseded)
    {
        if (ReferenceEquals(superseded, _tokens) || _state.Values.Any(v => ReferenceEquals(v, superseded)) ||
            _auxiliaryLosses.Any(l => ReferenceEquals(l.Value, superseded)))
        {
            return;
        }

        superseded.Dispose();
    }

    private static void Keep(DisposeScope scope, Tensor tensor)
    {
        if (scope.Contains(tensor))
        {
            scope.MoveToOuter(tensor);
        }
    }

    private Tensor BroadcastToBatch(Tensor tokens, string parameterName)
    {
        if (tokens.dim() != 3 || tokens.shape[2] != _tokens.shape[2] ||
            (tokens.shape[0] != 1 && tokens.shape[0] != BatchSize))
        {
            throw new ArgumentException(
                $"Segment tokens must be [B or 1, P, {_tokens.shape[2]}]; got [{string.Join(", ", tokens.shape)}].",
                parameterName);
        }

        return tokens.shape[0] == BatchSize ? tokens : tokens.expand(BatchSize, -1, -1);
    }
}
