using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Prompting;

/// <summary>
/// What a method asks of one block's self-attention, reset before every block. The key axis is the block's tokens
/// followed by the extra key/value tokens, so masks and biases have shape broadcastable to
/// [B, H, T, T + P] (T tokens in the sequence, P extra tokens).
/// </summary>
public sealed class AttentionExtras
{
    /// <summary>
    /// Extra tokens that act only as keys and values (never as queries, never in the output sequence), [B, P, D].
    /// They go through the block's own LayerNorm (unless disabled) and its frozen key/value projections.
    /// </summary>
    public Tensor? ExtraKeyValueTokens { get; private set; }

    /// <summary>Whether <see cref="ExtraKeyValueTokens"/> are normalised by the block's <c>norm1</c> first.</summary>
    public bool NormalizeExtraTokens { get; private set; } = true;

    /// <summary>
    /// Additive pre-softmax bias, broadcastable to [B, H, T, T + P]. Use negative infinity to hide a key from a query:
    /// the softmax then renormalises over the visible keys.
    /// </summary>
    public Tensor? AdditiveBias { get; private set; }

    /// <summary>
    /// Multiplicative mask applied to the attention weights after softmax, without renormalising, broadcastable to
    /// [B, H, T, T + P]. Masked keys still take part in the softmax denominator (TCPA's official behaviour).
    /// Setting it switches the block from fused to explicit attention.
    /// </summary>
    public Tensor? PostSoftmaxMask { get; private set; }

    /// <summary>
    /// Temperature τ that divides the attention logits before the softmax:
    /// softmax(q·kᵀ / (√d·τ) + <see cref="AdditiveBias"/>). Broadcastable to [B, H, T, 1] (a scalar applies to every
    /// image, head and query); the bias is not divided. GaPT trains one such scalar per block.
    /// </summary>
    public Tensor? LogitTemperature { get; private set; }

    /// <summary>Number of extra key/value tokens (0 when none).</summary>
    public long ExtraTokenCount => ExtraKeyValueTokens?.shape[1] ?? 0;

    /// <summary>True when nothing was requested for this block.</summary>
    public bool IsEmpty => ExtraKeyValueTokens is null && AdditiveBias is null && PostSoftmaxMask is null &&
        LogitTemperature is null;

    /// <summary>Sets the extra key/value tokens [B, P, D] (or [1, P, D], broadcast over the batch).</summary>
    public void SetExtraKeyValues(Tensor tokens, bool normalizeWithBlockNorm = true)
    {
        if (tokens.dim() != 3)
        {
            throw new ArgumentException(
                $"Extra key/value tokens must be [B, P, D]; got [{string.Join(", ", tokens.shape)}].", nameof(tokens));
        }

        ExtraKeyValueTokens = tokens;
        NormalizeExtraTokens = normalizeWithBlockNorm;
    }

    /// <summary>Adds <paramref name="bias"/> to the pre-softmax bias (biases from several calls are summed).</summary>
    public void AddBias(Tensor bias) => AdditiveBias = AdditiveBias is null ? bias : AdditiveBias + bias;

    /// <summary>Sets the post-softmax multiplicative mask (several calls multiply).</summary>
    public void MultiplyPostSoftmaxMask(Tensor mask) =>
        PostSoftmaxMask = PostSoftmaxMask is null ? mask : PostSoftmaxMask * mask;

    /// <summary>
    /// Divides this block's attention logits by <paramref name="temperature"/> (several calls multiply the
    /// temperatures). The tensor must be broadcastable to [B, H, T, 1]: a scalar, or a last dimension of 1.
    /// </summary>
    public void DivideLogitsBy(Tensor temperature)
    {
        if (temperature.dim() > 4 || (temperature.dim() > 0 && temperature.shape[^1] != 1))
        {
            throw new ArgumentException(
                "A logit temperature must be broadcastable to [B, H, T, 1]; got " +
                $"[{string.Join(", ", temperature.shape)}].",
                nameof(temperature));
        }

        LogitTemperature = LogitTemperature is null ? temperature : LogitTemperature * temperature;
    }

    internal void Reset()
    {
        ExtraKeyValueTokens = null;
        NormalizeExtraTokens = true;
        AdditiveBias = null;
        PostSoftmaxMask = null;
        LogitTemperature = null;
    }
}
