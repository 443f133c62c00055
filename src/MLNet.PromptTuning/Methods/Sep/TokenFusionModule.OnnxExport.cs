using MLNet.PromptTuning.Onnx;

namespace MLNet.PromptTuning.Methods.Sep;

/// <summary>ONNX export of SEP's Token Fusion Module (per-image attention axis only).</summary>
internal sealed partial class TokenFusionModule
{
    /// <summary>
    /// The export twin of <see cref="forward"/> with <see cref="SepFusionAxis.Tokens"/>: representatives R [B, M, D]
    /// and prompt states [B, M, D] → the new prompt tokens [B, M, D].
    /// </summary>
    public OnnxValue Export(OnnxGraph graph, OnnxValue representatives, OnnxValue prompts, string hint)
    {
        var g = graph;
        var lnAWeight = g.Constant(_lnA.weight!, hint + ".ln_a.weight");
        var lnABias = g.Constant(_lnA.bias!, hint + ".ln_a.bias");
        var normalizedR = g.LayerNorm(representatives, lnAWeight, lnABias, LayerNormEps);
        var normalizedQ = g.LayerNorm(prompts, lnAWeight, lnABias, LayerNormEps);
        var inWeight = g.LinearWeight(_inProjWeight, hint + ".in_proj_weight");                 // [D, 3D]
        var inBias = g.Constant(_inProjBias, hint + ".in_proj_bias");
        OnnxValue Project(OnnxValue x, int part) =>
            g.Linear(x, g.Slice(inWeight, 1, (long)part * _width, _width),
                g.Slice(inBias, 0, (long)part * _width, _width));
        var q = Project(normalizedQ, 0);
        var k = Project(normalizedR, 1);
        var v = Project(normalizedR, 2);

        int headDim = _width / _numHeads;
        OnnxValue Heads(OnnxValue t) =>
            g.Transpose(g.Reshape(t, 0, 0, _numHeads, headDim), 0, 2, 1, 3);                     // [B, h, M, hd]
        var attended = g.Attention(Heads(q), Heads(k), Heads(v), 4, 1.0 / Math.Sqrt(headDim));
        attended = g.Reshape(g.Transpose(attended, 0, 2, 1, 3), 0, 0, _width);                   // [B, M, D]
        attended = g.Linear(attended, _outProj.weight!, _outProj.bias!, hint + ".out_proj");

        using var oneMinusS1 = 1 - _s1;
        using var oneMinusS2 = 1 - _s2;
        var fused = g.Add(g.Mul(g.Constant(_s1, hint + ".s1"), representatives),
            g.Mul(g.Constant(oneMinusS1, hint + ".one_minus_s1"), attended));                   // residual on R
        var hidden = g.Linear(g.LayerNorm(fused, _lnB.weight!, _lnB.bias!, LayerNormEps, hint + ".ln_b"),
            _mlpIn.weight!, null, hint + ".mlp_fc");                                             // [B, M, r]
        hidden = g.Mul(hidden, g.Sigmoid(g.Mul(hidden, g.Scalar(1.702f))));                      // QuickGELU
        var mlp = g.Linear(hidden, _mlpOut.weight!, null, hint + ".mlp_proj");
        return g.Add(g.Mul(g.Constant(_s2, hint + ".s2"), fused),
            g.Mul(g.Constant(oneMinusS2, hint + ".one_minus_s2"), mlp));
    }
}
