using MLNet.PromptTuning.Prompting;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Onnx;

/// <summary>
/// The graph-building twin of <see cref="PromptContext"/>, handed to the export hooks of an
/// <see cref="IOnnxExportablePromptMethod"/> while a model is written as ONNX. It holds graph values instead of
/// tensors: the current tokens [B, T, D] and their named <see cref="TokenLayout"/>, this block's attention extras and
/// state carried across blocks. The batch size is a graph input, so segment lengths are given explicitly.
/// </summary>
public sealed class OnnxPromptContext
{
    private readonly Dictionary<string, OnnxValue> _state = new(StringComparer.Ordinal);
    private readonly Dictionary<string, object> _shared = new(StringComparer.Ordinal);
    private readonly Func<OnnxPromptContext, OnnxValue> _backbonePooling;
    private readonly Func<OnnxValue, OnnxValue> _pooledNorm;
    private readonly Func<int, OnnxAttentionWeights> _frozenAttention;

    internal OnnxPromptContext(
        OnnxGraph graph,
        OnnxValue tokens,
        TokenLayout layout,
        BackboneDescription backbone,
        Func<OnnxPromptContext, OnnxValue> backbonePooling,
        Func<OnnxValue, OnnxValue> pooledNorm,
        Func<int, OnnxAttentionWeights> frozenAttention)
    {
        Graph = graph;
        Tokens = tokens;
        Layout = layout;
        Backbone = backbone;
        Attention = new OnnxAttentionExtras(graph);
        _backbonePooling = backbonePooling;
        _pooledNorm = pooledNorm;
        _frozenAttention = frozenAttention;
    }

    /// <summary>The graph being built.</summary>
    public OnnxGraph Graph { get; }

    /// <summary>The current token sequence, [B, T, D] with T = <see cref="TokenLayout.Count"/>.</summary>
    public OnnxValue Tokens { get; private set; }

    /// <summary>Where each named segment sits in <see cref="Tokens"/>.</summary>
    public TokenLayout Layout { get; private set; }

    /// <summary>Requests for the self-attention of the block about to be written; cleared before every block.</summary>
    public OnnxAttentionExtras Attention { get; }

    /// <summary>The backbone's dimensions.</summary>
    public BackboneDescription Backbone { get; }

    /// <summary>Index of the block being written, or -1 before the first block and after the last.</summary>
    public int Layer { get; internal set; } = -1;

    /// <summary>
    /// A constant holding a method's tensor (a parameter, typically) in float32, the element type of every exported
    /// graph. The export-time counterpart of <see cref="PromptContext.ToCompute"/>.
    /// </summary>
    public OnnxValue Constant(Tensor tensor, string hint) => Graph.Constant(tensor, hint);

    /// <summary>Repeats a [1, ...] value of rank <paramref name="rank"/> over the batch: [B, ...].</summary>
    public OnnxValue ExpandToBatch(OnnxValue value, int rank) => Graph.ExpandToBatchOf(value, rank, Tokens);

    /// <summary>Replaces the whole sequence with a value of the same shape (same layout).</summary>
    public void SetTokens(OnnxValue tokens) => Tokens = tokens;

    /// <summary>The tokens of the named segment, [B, length, D].</summary>
    public OnnxValue GetSegment(string name) =>
        Graph.Slice(Tokens, 1, Layout.OffsetOf(name), Layout[name].Length);

    /// <summary>The tokens of every segment with <paramref name="role"/>, in sequence order, [B, n, D]; null if
    /// there are none.</summary>
    public OnnxValue? GetTokensOfRole(TokenRole role)
    {
        var ranges = Layout.RangesOf(role).ToList();
        return ranges.Count == 0
            ? null
            : Graph.Concat(1, ranges.Select(r => Graph.Slice(Tokens, 1, r.Start, r.Length)).ToArray());
    }

    /// <summary>Inserts a new prompt segment of <paramref name="length"/> tokens, [B, length, D].</summary>
    public void InsertSegment(string name, OnnxValue tokens, int length,
        SegmentPosition position = SegmentPosition.AfterPrefix)
    {
        var layout = Layout.Insert(new TokenSegment(name, TokenRole.Prompt, length), position);
        int at = layout.OffsetOf(name);
        Tokens = Splice(at, 0, tokens);
        Layout = layout;
    }

    /// <summary>Replaces the named segment with <paramref name="length"/> new tokens, [B, length, D].</summary>
    public void ReplaceSegment(string name, OnnxValue tokens, int length)
    {
        int offset = Layout.OffsetOf(name);
        Tokens = Splice(offset, Layout[name].Length, tokens);
        Layout = Layout.Resize(name, length);
    }

    /// <summary>Removes the named segment from the sequence.</summary>
    public void RemoveSegment(string name)
    {
        int offset = Layout.OffsetOf(name);
        Tokens = Splice(offset, Layout[name].Length, null);
        Layout = Layout.Remove(name);
    }

    /// <summary>The backbone's own pooling of the final tokens, [B, D].</summary>
    public OnnxValue PoolWithBackbone() => _backbonePooling(this);

    /// <summary>The backbone's post-pooling LayerNorm (<c>fc_norm</c>) when it has one; identity otherwise.</summary>
    public OnnxValue NormalizePooled(OnnxValue pooled) => _pooledNorm(pooled);

    /// <summary>
    /// Block <paramref name="layer"/>'s frozen self-attention weights as constants shared with the backbone's own
    /// block (the export-time <see cref="BackboneDescription.ViewAttentionWeights"/>): no second copy in the file.
    /// </summary>
    public OnnxAttentionWeights FrozenAttentionWeights(int layer)
    {
        if (layer < 0 || layer >= Backbone.Depth)
        {
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layer must be in [0, {Backbone.Depth - 1}].");
        }

        return _frozenAttention(layer);
    }

    /// <summary>Stores a value under <paramref name="key"/> for later hooks of the same export.</summary>
    public void SetState(string key, OnnxValue value) => _state[key] = value;

    /// <summary>The value stored under <paramref name="key"/>, or null.</summary>
    public OnnxValue? GetState(string key) => _state.TryGetValue(key, out var value) ? value : null;

    /// <summary>
    /// The object stored under <paramref name="key"/> for this export, created by <paramref name="create"/> on first
    /// use: constants a method writes once and uses in several blocks (LSPT's shared LSTM weights).
    /// </summary>
    public T GetOrCreate<T>(string key, Func<T> create)
        where T : notnull
    {
        ArgumentNullException.ThrowIfNull(create);
        if (!_shared.TryGetValue(key, out var value))
        {
            value = create();
            _shared[key] = value;
        }

        return (T)value;
    }

    /// <summary>Sets the sequence produced by a block or the final norm (the backbone's own step).</summary>
    internal void SetTokensAfterBlock(OnnxValue tokens) => Tokens = tokens;

    /// <summary>The sequence with <paramref name="removed"/> tokens at <paramref name="at"/> replaced by
    /// <paramref name="inserted"/> (nothing when null).</summary>
    private OnnxValue Splice(int at, int removed, OnnxValue? inserted)
    {
        int count = Layout.Count;
        var parts = new List<OnnxValue>(3);
        if (at > 0)
        {
            parts.Add(Graph.Slice(Tokens, 1, 0, at));
        }

        if (inserted is { } tokens)
        {
            parts.Add(tokens);
        }

        int after = count - at - removed;
        if (after > 0)
        {
            parts.Add(Graph.Slice(Tokens, 1, at + removed, after));
        }

        return Graph.Concat(1, parts.ToArray());
    }
}
