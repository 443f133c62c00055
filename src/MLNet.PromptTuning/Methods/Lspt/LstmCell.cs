using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Methods.Lspt;

/// <summary>
/// One LSTM cell with PyTorch's layout and initialisation (<c>weight_ih</c> [4H, I], <c>weight_hh</c> [4H, H], two
/// bias vectors, gate order input, forget, cell, output; every entry U(−1/√H, 1/√H)). Written out so its parameters
/// can be cast to the pass's compute type like every other method parameter.
/// </summary>
internal sealed partial class LstmCell : nn.Module
{
    [ComponentName(Name = "weight_ih")]
    private readonly Parameter _weightIh;

    [ComponentName(Name = "weight_hh")]
    private readonly Parameter _weightHh;

    [ComponentName(Name = "bias_ih")]
    private readonly Parameter _biasIh;

    [ComponentName(Name = "bias_hh")]
    private readonly Parameter _biasHh;

    public LstmCell(int inputSize, int hiddenSize)
        : base("lstm")
    {
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        double bound = 1.0 / Math.Sqrt(hiddenSize);
        _weightIh = Uniform(new long[] { 4L * hiddenSize, inputSize }, bound);
        _weightHh = Uniform(new long[] { 4L * hiddenSize, hiddenSize }, bound);
        _biasIh = Uniform(new long[] { 4L * hiddenSize }, bound);
        _biasHh = Uniform(new long[] { 4L * hiddenSize }, bound);
        RegisterComponents();
    }

    public int InputSize { get; }

    public int HiddenSize { get; }

    /// <summary>One step for a batch of independent sequences.</summary>
    /// <param name="input">[N, I].</param>
    /// <param name="hidden">[N, H].</param>
    /// <param name="cell">[N, H].</param>
    /// <param name="toCompute">Casts a parameter to the input's device and element type.</param>
    /// <returns>The new hidden and cell states, [N, H] each.</returns>
    public (Tensor Hidden, Tensor Cell) Step(Tensor input, Tensor hidden, Tensor cell, Func<Tensor, Tensor> toCompute)
    {
        var gates = nn.functional.linear(input, toCompute(_weightIh), toCompute(_biasIh))
            + nn.functional.linear(hidden, toCompute(_weightHh), toCompute(_biasHh));   // [N, 4H]
        var chunks = gates.chunk(4, -1);                                                  // i, f, g, o: [N, H]
        var nextCell = chunks[1].sigmoid() * cell + chunks[0].sigmoid() * chunks[2].tanh();
        var nextHidden = chunks[3].sigmoid() * nextCell.tanh();
        return (nextHidden, nextCell);
    }

    private static Parameter Uniform(long[] shape, double bound) =>
        new(torch.empty(shape).uniform_(-bound, bound), requires_grad: true);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _weightIh.Dispose();
            _weightHh.Dispose();
            _biasIh.Dispose();
            _biasHh.Dispose();
        }

        base.Dispose(disposing);
    }
}
