using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Methods.Sep;

/// <summary>
/// SEP's Token Fusion Module for one layer: multi-head attention with the prompt states as queries and the
/// representative tokens R as keys and values (one shared LayerNorm <c>ln_a</c> on all three), a gated residual on R,
/// then a gated bias-free MLP (d → r → d, QuickGELU):
/// Z = s1·R + (1 − s1)·MHA(ln_a Pq, ln_a R, ln_a R);  out = s2·Z + (1 − s2)·MLP(ln_b Z).
/// s1 and s2 are learned scalars initialised to 0.75. PyTorch's initialisation: packed in-projection Xavier-uniform,
/// in-projection and out-projection biases 0, other Linears Kaiming-uniform, LayerNorms (eps 1e-5) 1 and 0.
/// </summary>
internal sealed partial class TokenFusionModule : nn.Module<Tensor, Tensor, SepFusionAxis, Func<Tensor, Tensor>, Tensor>
{
    private const double LayerNormEps = 1e-5;

    [ComponentName(Name = "in_proj_weight")]
    private readonly Parameter _inProjWeight;

    [ComponentName(Name = "in_proj_bias")]
    private readonly Parameter _inProjBias;

    [ComponentName(Name = "out_proj")]
    private readonly Linear _outProj;

    [ComponentName(Name = "ln_a")]
    private readonly LayerNorm _lnA;

    [ComponentName(Name = "ln_b")]
    private readonly LayerNorm _lnB;

    [ComponentName(Name = "mlp_fc")]
    private readonly Linear _mlpIn;

    [ComponentName(Name = "mlp_proj")]
    private readonly Linear _mlpOut;

    [ComponentName(Name = "s1")]
    private readonly Parameter _s1;

    [ComponentName(Name = "s2")]
    private readonly Parameter _s2;

    private readonly int _width;
    private readonly int _numHeads;

    public TokenFusionModule(int width, int numHeads, int hiddenDim, double gateInit)
        : base("tfm")
    {
        _width = width;
        _numHeads = numHeads;
        _inProjWeight = new Parameter(torch.empty(3L * width, width), requires_grad: true);
        _inProjBias = new Parameter(torch.zeros(3L * width), requires_grad: true);
        _outProj = nn.Linear(width, width);
        _lnA = nn.LayerNorm(width, LayerNormEps);
        _lnB = nn.LayerNorm(width, LayerNormEps);
        _mlpIn = nn.Linear(width, hiddenDim, hasBias: false);
        _mlpOut = nn.Linear(hiddenDim, width, hasBias: false);
        _s1 = new Parameter(torch.tensor(gateInit, ScalarType.Float32), requires_grad: true);
        _s2 = new Parameter(torch.tensor(gateInit, ScalarType.Float32), requires_grad: true);
        using (torch.no_grad())
        {
            nn.init.xavier_uniform_(_inProjWeight);
            nn.init.zeros_(_outProj.bias!);
        }

        RegisterComponents();
    }

    /// <summary>Fuses the representatives with the prompt states.</summary>
    /// <param name="representatives">R, [B, M, D].</param>
    /// <param name="prompts">Current prompt states Pq (queries only), [B, M, D].</param>
    /// <param name="axis">The attention axis: the M tokens of each image, or the B images of each slot.</param>
    /// <param name="toCompute">Casts a parameter to the inputs' device and element type.</param>
    /// <returns>The new prompt tokens, [B, M, D].</returns>
    public override Tensor forward(
        Tensor representatives, Tensor prompts, SepFusionAxis axis, Func<Tensor, Tensor> toCompute)
    {
        var normalizedR = LayerNorm(representatives, _lnA, toCompute);                    // [B, M, D]
        var normalizedQ = LayerNorm(prompts, _lnA, toCompute);
        var weights = toCompute(_inProjWeight).chunk(3, 0);                               // 3 × [D, D]
        var biases = toCompute(_inProjBias).chunk(3, 0);                                  // 3 × [D]
        var q = nn.functional.linear(normalizedQ, weights[0], biases[0]);                  // [B, M, D]
        var k = nn.functional.linear(normalizedR, weights[1], biases[1]);
        var v = nn.functional.linear(normalizedR, weights[2], biases[2]);
        if (axis == SepFusionAxis.Batch)
        {
            // The official layout: each slot is its own "batch", the images are the attended sequence.
            (q, k, v) = (q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1));        // [M, B, D]
        }

        var attended = Attend(q, k, v);                                                    // [S0, S1, D]
        if (axis == SepFusionAxis.Batch)
        {
            attended = attended.transpose(0, 1);                                           // [B, M, D]
        }

        attended = nn.functional.linear(attended, toCompute(_outProj.weight!), toCompute(_outProj.bias!));
        var s1 = toCompute(_s1);
        var s2 = toCompute(_s2);
        var fused = s1 * representatives + (1 - s1) * attended;                           // residual on R, not on Pq
        var hidden = nn.functional.linear(LayerNorm(fused, _lnB, toCompute), toCompute(_mlpIn.weight!)); // [B, M, r]
        hidden = hidden * (hidden * 1.702).sigmoid();                                      // QuickGELU
        var mlp = nn.functional.linear(hidden, toCompute(_mlpOut.weight!));               // [B, M, D]
        return s2 * fused + (1 - s2) * mlp;
    }

    /// <summary>Scaled dot-product attention over dimension 1 of [S0, S1, D] inputs, split into heads.</summary>
    private Tensor Attend(Tensor q, Tensor k, Tensor v)
    {
        long outer = q.shape[0], sequence = q.shape[1];
        int headDim = _width / _numHeads;
        Tensor Heads(Tensor t) => t.reshape(outer, sequence, _numHeads, headDim).transpose(1, 2); // [S0, h, S1, hd]
        var attended = nn.functional.scaled_dot_product_attention(Heads(q), Heads(k), Heads(v)); // [S0, h, S1, hd]
        return attended.transpose(1, 2).reshape(outer, sequence, _width);                // [S0, S1, D]
    }

    private static Tensor LayerNorm(Tensor x, LayerNorm norm, Func<Tensor, Tensor> toCompute) =>
        nn.functional.layer_norm(x, new long[] { x.shape[^1] }, toCompute(norm.weight!), toCompute(norm.bias!),
            LayerNormEps);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inProjWeight.Dispose();
            _inProjBias.Dispose();
            _outProj.Dispose();
            _lnA.Dispose();
            _lnB.Dispose();
            _mlpIn.Dispose();
            _mlpOut.Dispose();
            _s1.Dispose();
            _s2.Dispose();
        }

        base.Dispose(disposing);
    }
}
