using MLNet.PromptTuning.Onnx;

namespace MLNet.PromptTuning.Methods.Lspt;

/// <summary>ONNX export of one LSTM step.</summary>
internal sealed partial class LstmCell
{
    /// <summary>The cell's weights as constants, written once per export and reused by every step.</summary>
    internal sealed record OnnxWeights(
        OnnxValue InputWeight, OnnxValue InputBias, OnnxValue HiddenWeight, OnnxValue HiddenBias);

    /// <summary>Writes the cell's weights (transposed for matrix products).</summary>
    public OnnxWeights ExportWeights(OnnxGraph graph, string hint) => new(
        graph.LinearWeight(_weightIh, hint + ".weight_ih"), graph.Constant(_biasIh, hint + ".bias_ih"),
        graph.LinearWeight(_weightHh, hint + ".weight_hh"), graph.Constant(_biasHh, hint + ".bias_hh"));

    /// <summary>The export twin of <see cref="Step"/>: input [N, I], hidden and cell [N, H] → new hidden and cell.
    /// </summary>
    public (OnnxValue Hidden, OnnxValue Cell) ExportStep(OnnxGraph graph, OnnxWeights weights, OnnxValue input,
        OnnxValue hidden, OnnxValue cell)
    {
        var g = graph;
        var gates = g.Add(g.Linear(input, weights.InputWeight, weights.InputBias),
            g.Linear(hidden, weights.HiddenWeight, weights.HiddenBias));                        // [N, 4H]
        OnnxValue Chunk(int index) => g.Slice(gates, 1, (long)index * HiddenSize, HiddenSize);  // i, f, g, o
        var nextCell = g.Add(g.Mul(g.Sigmoid(Chunk(1)), cell), g.Mul(g.Sigmoid(Chunk(0)), g.Tanh(Chunk(2))));
        var nextHidden = g.Mul(g.Sigmoid(Chunk(3)), g.Tanh(nextCell));
        return (nextHidden, nextCell);
    }
}
