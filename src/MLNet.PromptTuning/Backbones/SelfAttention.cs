using MLNet.PromptTuning.Prompting;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Backbones;

/// <summary>
/// Multi-head self-attention with a fused qkv projection (timm <c>attn.qkv</c>, <c>attn.proj</c>), plus the generic
/// seams prompt methods use: extra key/value tokens, a logit temperature, an additive pre-softmax bias and a
/// post-softmax mask.
/// Uses fused scaled-dot-product attention unless a post-softmax mask requires the explicit path (as timm does).
/// </summary>
internal sealed class SelfAttention : nn.Module<Tensor, Tensor?, AttentionExtras, Tensor>
{
    [ComponentName(Name = "qkv")]
    private readonly Linear _qkv;

    [ComponentName(Name = "proj")]
    private readonly Linear _proj;

    private readonly int _numHeads;
    private readonly int _headDim;
    private readonly double _scale;

    public SelfAttention(int embedDim, int numHeads, bool qkvBias)
        : base("attn")
    {
        _numHeads = numHeads;
        _headDim = embedDim / numHeads;
        _scale = 1.0 / Math.Sqrt(_headDim);
        _qkv = nn.Linear(embedDim, 3 * embedDim, hasBias: qkvBias);
        _proj = nn.Linear(embedDim, embedDim);
        RegisterComponents();
    }

    /// <summary>When false, always use the explicit softmax path (for parity checks against fused attention).</summary>
    public bool UseFusedAttention { get; set; } = true;

    public Linear Qkv => _qkv;

    public Linear Proj => _proj;

    /// <summary>Self-attention of <paramref name="x"/>; invoke through <c>call</c> so module hooks run.</summary>
    /// <param name="x">Normalised tokens [B, T, D].</param>
    /// <param name="extraTokens">Normalised extra key/value tokens [B or 1, P, D], or null.</param>
    /// <param name="extras">This block's attention extras (temperature, bias and mask).</param>
    public override Tensor forward(Tensor x, Tensor? extraTokens, AttentionExtras extras)
    {
        long batch = x.shape[0], tokens = x.shape[1], width = x.shape[2];
        // [3, B, H, T, hd]
        var qkv = _qkv.call(x).reshape(batch, tokens, 3, _numHeads, _headDim).permute(2, 0, 3, 1, 4);
        Tensor q = qkv[0], k = qkv[1], v = qkv[2];                                                    // [B, H, T, hd]
        if (extras.LogitTemperature is not null)
        {
            // Dividing the queries divides every logit q·k and keeps the fused path: softmax(q·kᵀ/(√d·τ) + bias).
            q = q / extras.LogitTemperature;
        }

        if (extraTokens is not null)
        {
            // Extra tokens only act as keys and values: project them with the frozen k and v rows of qkv.
            var kvWeight = _qkv.weight!.narrow(0, width, 2 * width);                     // [2D, D]
            var kvBias = _qkv.bias?.narrow(0, width, 2 * width);
            long extra = extraTokens.shape[1];
            var kv = nn.functional.linear(extraTokens, kvWeight, kvBias)
                .expand(batch, extra, 2 * width)
                .reshape(batch, extra, 2, _numHeads, _headDim).permute(2, 0, 3, 1, 4);   // [2, B, H, P, hd]
            k = torch.cat(new[] { k, kv[0] }, 2);                                         // [B, H, T+P, hd]
            v = torch.cat(new[] { v, kv[1] }, 2);
        }

        Tensor attended;
        if (UseFusedAttention && extras.PostSoftmaxMask is null && !IsCpuBFloat16(x))
        {
            attended = nn.functional.scaled_dot_product_attention(q, k, v, extras.AdditiveBias);     // [B, H, T, hd]
        }
        else
        {
            var logits = torch.matmul(q * _scale, k.transpose(-2, -1));                  // [B, H, T, T+P]
            if (extras.AdditiveBias is not null)
            {
                logits = logits + extras.AdditiveBias;
            }

            // In bfloat16 the softmax runs in float32, as PyTorch's autocast does, then returns to the logits' type.
            var weights = logits.dtype == ScalarType.BFloat16
                ? logits.softmax(-1, ScalarType.Float32).to(ScalarType.BFloat16)
                : logits.softmax(-1);
            if (extras.PostSoftmaxMask is not null)
            {
                // Masked after softmax and deliberately not renormalised (TCPA's reference behaviour).
                weights = weights * extras.PostSoftmaxMask;
            }

            attended = torch.matmul(weights, v);                                         // [B, H, T, hd]
        }

        return _proj.call(attended.transpose(1, 2).reshape(batch, tokens, width));       // [B, T, D]
    }

    /// <summary>
    /// libtorch 2.10's fused attention is slow in bfloat16 on the CPU: a ViT-Ti training step with VPT-Deep took
    /// 28.7–29.2 ms per image through it and 16.5–18.2 through the explicit path (docs/benchmarks.md), so bfloat16 on
    /// the CPU always takes the explicit path. GPUs keep the fused kernels.
    /// </summary>
    private static bool IsCpuBFloat16(Tensor x) => x.dtype == ScalarType.BFloat16 && x.device.type == DeviceType.CPU;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _qkv.Dispose();
            _proj.Dispose();
        }

        base.Dispose(disposing);
    }
}
