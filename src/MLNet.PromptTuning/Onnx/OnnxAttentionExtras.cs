namespace MLNet.PromptTuning.Onnx;

/// <summary>
/// The graph-building twin of <see cref="Prompting.AttentionExtras"/>: what a method asks of one block's
/// self-attention while the model is exported, reset before every block. The key axis is the block's tokens followed
/// by the extra key/value tokens; masks and biases broadcast to [B, H, T, T + P].
/// </summary>
public sealed class OnnxAttentionExtras
{
    /// <summary>Extra tokens that act only as keys and values, [B or 1, P, D]; null when none.</summary>
    public OnnxValue? ExtraKeyValueTokens { get; private set; }

    /// <summary>Whether <see cref="ExtraKeyValueTokens"/> go through the block's <c>norm1</c> first.</summary>
    public bool NormalizeExtraTokens { get; private set; } = true;

    /// <summary>Additive pre-softmax bias, broadcastable to [B, H, T, T + P]; null when none.</summary>
    public OnnxValue? AdditiveBias { get; private set; }

    /// <summary>Multiplicative mask on the attention weights after softmax, not renormalised; null when none.</summary>
    public OnnxValue? PostSoftmaxMask { get; private set; }

    /// <summary>
    /// Temperature τ that divides the attention logits q·kᵀ/√d before the bias and the softmax, a constant of the
    /// exported model (the twin of <see cref="Prompting.AttentionExtras.LogitTemperature"/>). Default 1.
    /// </summary>
    public double LogitTemperature { get; private set; } = 1;

    private readonly OnnxGraph _graph;

    internal OnnxAttentionExtras(OnnxGraph graph) => _graph = graph;

    /// <summary>Sets the extra key/value tokens [B or 1, P, D].</summary>
    public void SetExtraKeyValues(OnnxValue tokens, bool normalizeWithBlockNorm = true)
    {
        ExtraKeyValueTokens = tokens;
        NormalizeExtraTokens = normalizeWithBlockNorm;
    }

    /// <summary>Adds <paramref name="bias"/> to the pre-softmax bias (several calls are summed).</summary>
    public void AddBias(OnnxValue bias) =>
        AdditiveBias = AdditiveBias is { } existing ? _graph.Add(existing, bias) : bias;

    /// <summary>Multiplies the post-softmax mask by <paramref name="mask"/> (several calls multiply).</summary>
    public void MultiplyPostSoftmaxMask(OnnxValue mask) =>
        PostSoftmaxMask = PostSoftmaxMask is { } existing ? _graph.Mul(existing, mask) : mask;

    /// <summary>Divides this block's attention logits by <paramref name="temperature"/> (several calls multiply the
    /// temperatures).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The temperature is not a positive finite number.</exception>
    public void DivideLogitsBy(double temperature)
    {
        if (!(temperature > 0) || !double.IsFinite(temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature,
                "A logit temperature must be a positive finite number.");
        }

        LogitTemperature *= temperature;
    }

    internal void Reset()
    {
        LogitTemperature = 1;
        ExtraKeyValueTokens = null;
        NormalizeExtraTokens = true;
        AdditiveBias = null;
        PostSoftmaxMask = null;
    }
}
