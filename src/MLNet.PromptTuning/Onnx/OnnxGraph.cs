using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Onnx;

/// <summary>
/// A small builder of ONNX graphs in the default operator domain: constants, operators and the composite pieces a
/// Vision Transformer needs (linear layers, LayerNorm, exact GELU, attention). It knows nothing of ML.NET; the
/// library's ML.NET export route copies a finished graph into <c>mlContext.Model.ConvertToOnnx</c>'s model.
/// </summary>
/// <remarks>
/// <para>Nodes are written in the form ONNX opsets <see cref="MinimumOpsetVersion"/> and
/// <see cref="MaximumOpsetVersion"/> define (axes of <c>Unsqueeze</c>, <c>Squeeze</c> and the reductions as attributes;
/// <c>Softmax</c> only over the last axis, where the two opsets' definitions agree). Microsoft.ML.OnnxConverter writes
/// opset 12 by default and accepts nothing newer.</para>
/// <para>Every constant is float32, int64 or int32: a model computed in bfloat16 exports its weights in float32.
/// Values are named <c>prefix/hint_n</c>, unique within the graph.</para>
/// </remarks>
public sealed class OnnxGraph
{
    /// <summary>The oldest ONNX opset whose operator definitions this builder's nodes follow (TopK with a K input,
    /// Round, GatherElements, Range).</summary>
    public const int MinimumOpsetVersion = 11;

    /// <summary>The newest ONNX opset whose operator definitions this builder's nodes follow.</summary>
    public const int MaximumOpsetVersion = 12;

    /// <summary>Largest total size of constants: a protobuf message cannot exceed 2 GiB, and ML.NET's converter
    /// writes every weight inside the model file (no external data).</summary>
    public const long MaximumConstantBytes = 2_000_000_000;

    private readonly List<OnnxNodeSpec> _nodes = new();
    private readonly List<OnnxInitializer> _initializers = new();
    private readonly Dictionary<string, OnnxValue> _sharedConstants = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly string _prefix;
    private long _constantBytes;

    /// <summary>Creates an empty graph whose value names start with <paramref name="prefix"/>.</summary>
    internal OnnxGraph(string prefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        _prefix = prefix;
    }

    /// <summary>The operators, in topological order.</summary>
    internal IReadOnlyList<OnnxNodeSpec> Nodes => _nodes;

    /// <summary>The constants.</summary>
    internal IReadOnlyList<OnnxInitializer> Initializers => _initializers;

    /// <summary>Total bytes of the constants.</summary>
    internal long ConstantBytes => _constantBytes;

    /// <summary>Declares a value produced outside this graph (an input), under its exact name.</summary>
    internal OnnxValue External(string name)
    {
        _names.Add(name);
        return new OnnxValue(name);
    }

    // ---- constants -------------------------------------------------------------------------------------------------

    /// <summary>
    /// A constant copy of <paramref name="tensor"/> (any device): floating-point tensors become float32 (bfloat16 and
    /// float16 values are exact in float32), integer tensors int64. A 0-dimensional tensor becomes shape [1], which
    /// broadcasts the same way.
    /// </summary>
    /// <param name="tensor">The values; read once, not kept.</param>
    /// <param name="hint">A readable part of the constant's name.</param>
    public OnnxValue Constant(Tensor tensor, string hint)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using var scope = torch.NewDisposeScope();
        var cpu = tensor.detach().cpu();
        long[] dims = cpu.dim() == 0 ? new long[] { 1 } : cpu.shape.ToArray();
        if (cpu.is_floating_point())
        {
            float[] values = cpu.to(ScalarType.Float32).contiguous().data<float>().ToArray();
            return AddInitializer(hint, dims, values, null, null);
        }

        if (cpu.dtype is ScalarType.Int64 or ScalarType.Int32 or ScalarType.Int16 or ScalarType.Int8 or ScalarType.Byte)
        {
            long[] values = cpu.to(ScalarType.Int64).contiguous().data<long>().ToArray();
            return AddInitializer(hint, dims, null, values, null);
        }

        throw new NotSupportedException(
            $"A {cpu.dtype} tensor cannot be an ONNX constant here; expected a floating-point or integer tensor.");
    }

    /// <summary>A float32 constant of shape <paramref name="dims"/>.</summary>
    public OnnxValue Constant(float[] values, long[] dims, string hint)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(dims);
        CheckCount(values.LongLength, dims);
        return AddInitializer(hint, dims, (float[])values.Clone(), null, null);
    }

    /// <summary>An int32 constant of shape <paramref name="dims"/>.</summary>
    public OnnxValue Constant(int[] values, long[] dims, string hint)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(dims);
        CheckCount(values.LongLength, dims);
        return AddInitializer(hint, dims, null, null, (int[])values.Clone());
    }

    /// <summary>A one-element float32 constant, shape [1] (broadcasts like a scalar); shared between uses.</summary>
    public OnnxValue Scalar(float value) =>
        Shared("f:" + BitConverter.SingleToInt32Bits(value).ToString(CultureInfo.InvariantCulture),
            () => AddInitializer("scalar", new long[] { 1 }, new[] { value }, null, null));

    /// <summary>A one-dimensional int64 constant (shapes, axes, indices); shared between uses.</summary>
    public OnnxValue Int64s(params long[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return Shared("i:" + string.Join(",", values),
            () => AddInitializer("ints", new long[] { values.Length }, null, (long[])values.Clone(), null));
    }

    // ---- generic operators -----------------------------------------------------------------------------------------

    /// <summary>Adds an operator with one output.</summary>
    /// <param name="opType">The ONNX operator (default domain).</param>
    /// <param name="inputs">Its inputs, in the operator's order.</param>
    /// <param name="attributes">Attributes: <see cref="long"/>, <see cref="long"/>[], <see cref="float"/> or
    /// <see cref="string"/> values.</param>
    public OnnxValue Op(string opType, IReadOnlyList<OnnxValue> inputs,
        params (string Name, object Value)[] attributes) =>
        Op(opType, 1, inputs, attributes)[0];

    /// <summary>Adds an operator with <paramref name="outputCount"/> outputs.</summary>
    public OnnxValue[] Op(string opType, int outputCount, IReadOnlyList<OnnxValue> inputs,
        params (string Name, object Value)[] attributes)
    {
        ArgumentException.ThrowIfNullOrEmpty(opType);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputCount, 1);
        foreach (var (name, value) in attributes)
        {
            if (value is not (long or long[] or float or string))
            {
                throw new ArgumentException(
                    $"Attribute '{name}' of {opType} has a {value?.GetType().Name ?? "null"} value; " +
                    "expected long, long[], float or string.",
                    nameof(attributes));
            }
        }

        var outputs = Enumerable.Range(0, outputCount).Select(_ => NewName(opType)).ToArray();
        _nodes.Add(new OnnxNodeSpec(opType, inputs.Select(i => i.Name).ToArray(), outputs,
            attributes.Select(a => new KeyValuePair<string, object>(a.Name, a.Value)).ToArray()));
        return outputs.Select(o => new OnnxValue(o)).ToArray();
    }

    // ---- elementwise -----------------------------------------------------------------------------------------------

    /// <summary>a + b (numpy broadcasting).</summary>
    public OnnxValue Add(OnnxValue a, OnnxValue b) => Op("Add", new[] { a, b });

    /// <summary>a − b.</summary>
    public OnnxValue Sub(OnnxValue a, OnnxValue b) => Op("Sub", new[] { a, b });

    /// <summary>a · b.</summary>
    public OnnxValue Mul(OnnxValue a, OnnxValue b) => Op("Mul", new[] { a, b });

    /// <summary>a / b.</summary>
    public OnnxValue Div(OnnxValue a, OnnxValue b) => Op("Div", new[] { a, b });

    /// <summary>Matrix product with numpy broadcasting of leading dimensions.</summary>
    public OnnxValue MatMul(OnnxValue a, OnnxValue b) => Op("MatMul", new[] { a, b });

    /// <summary>The logistic function.</summary>
    public OnnxValue Sigmoid(OnnxValue x) => Op("Sigmoid", new[] { x });

    /// <summary>The hyperbolic tangent.</summary>
    public OnnxValue Tanh(OnnxValue x) => Op("Tanh", new[] { x });

    /// <summary>Rounds half to even, as <c>torch.round</c>.</summary>
    public OnnxValue Round(OnnxValue x) => Op("Round", new[] { x });

    /// <summary>Elementwise maximum.</summary>
    public OnnxValue Max(OnnxValue a, OnnxValue b) => Op("Max", new[] { a, b });

    /// <summary>Elementwise minimum.</summary>
    public OnnxValue Min(OnnxValue a, OnnxValue b) => Op("Min", new[] { a, b });

    /// <summary>Clamps to [<paramref name="low"/>, <paramref name="high"/>] (Max then Min: valid in every opset).
    /// </summary>
    public OnnxValue Clamp(OnnxValue x, float low, float high) => Min(Max(x, Scalar(low)), Scalar(high));

    /// <summary>Converts the element type.</summary>
    public OnnxValue Cast(OnnxValue x, OnnxElementType to) => Op("Cast", new[] { x }, ("to", (long)to));

    // ---- shapes ----------------------------------------------------------------------------------------------------

    /// <summary>Reshapes; 0 copies the input's dimension, −1 is inferred.</summary>
    public OnnxValue Reshape(OnnxValue x, params long[] shape) => Op("Reshape", new[] { x, Int64s(shape) });

    /// <summary>Permutes dimensions.</summary>
    public OnnxValue Transpose(OnnxValue x, params long[] permutation) =>
        Op("Transpose", new[] { x }, ("perm", permutation));

    /// <summary>Inserts size-1 dimensions.</summary>
    public OnnxValue Unsqueeze(OnnxValue x, params long[] axes) => Op("Unsqueeze", new[] { x }, ("axes", axes));

    /// <summary>Removes size-1 dimensions.</summary>
    public OnnxValue Squeeze(OnnxValue x, params long[] axes) => Op("Squeeze", new[] { x }, ("axes", axes));

    /// <summary>Concatenates along <paramref name="axis"/>.</summary>
    public OnnxValue Concat(long axis, params OnnxValue[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return values.Length == 1 ? values[0] : Op("Concat", values, ("axis", axis));
    }

    /// <summary><paramref name="length"/> entries of <paramref name="axis"/> from <paramref name="start"/>
    /// (<c>torch.narrow</c>).</summary>
    public OnnxValue Slice(OnnxValue x, long axis, long start, long length) =>
        Op("Slice", new[] { x, Int64s(start), Int64s(start + length), Int64s(axis) });

    /// <summary>Selects the given entries of <paramref name="axis"/>, in order (<c>index_select</c>).</summary>
    public OnnxValue Gather(OnnxValue x, long axis, params long[] indices) =>
        Op("Gather", new[] { x, Int64s(indices) }, ("axis", axis));

    /// <summary>Picks entries along <paramref name="axis"/> by an index tensor of the same rank
    /// (<c>torch.gather</c>).</summary>
    public OnnxValue GatherElements(OnnxValue x, OnnxValue indices, long axis) =>
        Op("GatherElements", new[] { x, indices }, ("axis", axis));

    /// <summary>The shape of <paramref name="x"/> as an int64 vector.</summary>
    public OnnxValue Shape(OnnxValue x) => Op("Shape", new[] { x });

    /// <summary>Broadcasts <paramref name="x"/> to <paramref name="shape"/> (numpy rules, both ways).</summary>
    public OnnxValue Expand(OnnxValue x, OnnxValue shape) => Op("Expand", new[] { x, shape });

    /// <summary>
    /// Repeats a tensor whose first dimension is 1 along the batch of <paramref name="like"/>: [1, ...] → [B, ...]
    /// with B = <paramref name="like"/>'s first dimension (<c>expand(B, -1, ...)</c>).
    /// </summary>
    /// <param name="x">The tensor, first dimension 1 (or already B).</param>
    /// <param name="rank">Rank of <paramref name="x"/>.</param>
    /// <param name="like">Any tensor whose first dimension is the batch.</param>
    public OnnxValue ExpandToBatchOf(OnnxValue x, int rank, OnnxValue like)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rank, 1);
        var batch = Slice(Shape(like), 0, 0, 1);                                          // [1] = B
        var shape = rank == 1 ? batch : Concat(0, batch, Int64s(Enumerable.Repeat(1L, rank - 1).ToArray()));
        return Expand(x, shape);
    }

    // ---- reductions and selection ----------------------------------------------------------------------------------

    /// <summary>Mean over <paramref name="axes"/>.</summary>
    public OnnxValue ReduceMean(OnnxValue x, long[] axes, bool keepDims) =>
        Op("ReduceMean", new[] { x }, ("axes", axes), ("keepdims", keepDims ? 1L : 0L));

    /// <summary>Sum over <paramref name="axes"/>.</summary>
    public OnnxValue ReduceSum(OnnxValue x, long[] axes, bool keepDims) =>
        Op("ReduceSum", new[] { x }, ("axes", axes), ("keepdims", keepDims ? 1L : 0L));

    /// <summary>The <paramref name="k"/> largest entries along <paramref name="axis"/>, sorted descending, and their
    /// int64 indices.</summary>
    public (OnnxValue Values, OnnxValue Indices) TopK(OnnxValue x, long k, long axis)
    {
        var outputs = Op("TopK", 2, new[] { x, Int64s(k) }, ("axis", axis), ("largest", 1L), ("sorted", 1L));
        return (outputs[0], outputs[1]);
    }

    /// <summary>Softmax over the last axis (rank <paramref name="rank"/>).</summary>
    public OnnxValue Softmax(OnnxValue x, int rank) => Op("Softmax", new[] { x }, ("axis", (long)(rank - 1)));

    // ---- composite layers ------------------------------------------------------------------------------------------

    /// <summary>
    /// A constant holding the transpose of a PyTorch linear weight [out, in], ready for <see cref="MatMul"/>.
    /// </summary>
    public OnnxValue LinearWeight(Tensor weight, string hint)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.dim() != 2)
        {
            throw new ArgumentException(
                $"A linear weight is [out, in]; got [{string.Join(", ", weight.shape)}].", nameof(weight));
        }

        using var transposed = weight.detach().t();
        return Constant(transposed, hint);
    }

    /// <summary><c>x · Wᵀ + b</c> with a PyTorch weight [out, in] and optional bias [out].</summary>
    public OnnxValue Linear(OnnxValue x, Tensor weight, Tensor? bias, string hint) =>
        Linear(x, LinearWeight(weight, hint + ".weight"), bias is null ? null : Constant(bias, hint + ".bias"));

    /// <summary><c>x · weightT + bias</c> with a transposed weight [in, out] already in the graph.</summary>
    public OnnxValue Linear(OnnxValue x, OnnxValue weightTransposed, OnnxValue? bias)
    {
        var product = MatMul(x, weightTransposed);
        return bias is { } b ? Add(product, b) : product;
    }

    /// <summary>LayerNorm over the last axis: (x − mean) / √(var + eps) · weight + bias (biased variance).
    /// </summary>
    public OnnxValue LayerNorm(OnnxValue x, OnnxValue weight, OnnxValue bias, double epsilon)
    {
        var mean = ReduceMean(x, new[] { -1L }, keepDims: true);
        var centered = Sub(x, mean);
        var variance = ReduceMean(Mul(centered, centered), new[] { -1L }, keepDims: true);
        var normalized = Div(centered, Op("Sqrt", new[] { Add(variance, Scalar((float)epsilon)) }));
        return Add(Mul(normalized, weight), bias);
    }

    /// <summary>LayerNorm with PyTorch weight and bias tensors [D].</summary>
    public OnnxValue LayerNorm(OnnxValue x, Tensor weight, Tensor bias, double epsilon, string hint) =>
        LayerNorm(x, Constant(weight, hint + ".weight"), Constant(bias, hint + ".bias"), epsilon);

    /// <summary>Exact (erf) GELU: x · ½ · (1 + erf(x / √2)), as PyTorch's default.</summary>
    public OnnxValue Gelu(OnnxValue x)
    {
        var erf = Op("Erf", new[] { Mul(x, Scalar((float)(1.0 / Math.Sqrt(2.0)))) });
        return Mul(Mul(x, Scalar(0.5f)), Add(erf, Scalar(1f)));
    }

    /// <summary>
    /// Scaled dot-product attention over heads: softmax(q·kᵀ·scale + bias) (· mask, not renormalised) · v.
    /// </summary>
    /// <param name="query">[..., T, d].</param>
    /// <param name="key">[..., S, d].</param>
    /// <param name="value">[..., S, d].</param>
    /// <param name="rank">Rank of the inputs (4 for [B, H, T, d]).</param>
    /// <param name="scale">Logit scale, usually 1/√d.</param>
    /// <param name="bias">Additive pre-softmax bias broadcastable to [..., T, S], or null.</param>
    /// <param name="postSoftmaxMask">Multiplicative mask on the weights broadcastable to [..., T, S], or null.</param>
    public OnnxValue Attention(OnnxValue query, OnnxValue key, OnnxValue value, int rank, double scale,
        OnnxValue? bias = null, OnnxValue? postSoftmaxMask = null)
    {
        var permutation = Enumerable.Range(0, rank).Select(i => (long)i).ToArray();
        (permutation[rank - 1], permutation[rank - 2]) = (permutation[rank - 2], permutation[rank - 1]);
        var logits = MatMul(Mul(query, Scalar((float)scale)), Transpose(key, permutation));    // [..., T, S]
        if (bias is { } b)
        {
            logits = Add(logits, b);
        }

        var weights = Softmax(logits, rank);
        if (postSoftmaxMask is { } m)
        {
            weights = Mul(weights, m);
        }

        return MatMul(weights, value);                                                          // [..., T, d]
    }

    // ---- internals -------------------------------------------------------------------------------------------------

    private OnnxValue Shared(string key, Func<OnnxValue> create)
    {
        if (!_sharedConstants.TryGetValue(key, out var value))
        {
            value = create();
            _sharedConstants[key] = value;
        }

        return value;
    }

    private OnnxValue AddInitializer(string hint, long[] dims, float[]? floats, long[]? int64s, int[]? int32s)
    {
        var initializer = new OnnxInitializer(NewName(hint), dims, floats, int64s, int32s);
        _constantBytes += initializer.ByteCount;
        if (_constantBytes > MaximumConstantBytes)
        {
            throw new NotSupportedException(
                $"The ONNX model's weights would exceed {MaximumConstantBytes / 1_000_000_000.0:0.#} GB " +
                $"({_constantBytes:N0} bytes so far): an ONNX protobuf file cannot hold more than 2 GiB, and " +
                "ML.NET's converter stores every weight inside the file. Export a smaller backbone.");
        }

        _initializers.Add(initializer);
        return new OnnxValue(initializer.Name);
    }

    private string NewName(string hint)
    {
        string stem = $"{_prefix}/{hint}";
        for (int n = _names.Count; ; n++)
        {
            string name = string.Create(CultureInfo.InvariantCulture, $"{stem}_{n}");
            if (_names.Add(name))
            {
                return name;
            }
        }
    }

    private static void CheckCount(long count, long[] dims)
    {
        long expected = dims.Aggregate(1L, (a, b) => a * b);
        if (expected != count)
        {
            throw new ArgumentException(
                $"{count} values do not fill the shape [{string.Join(", ", dims)}] ({expected}).");
        }
    }
}
