using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Backbones;

/// <summary>The block's feed-forward branch: Linear, exact GELU, Linear (timm <c>mlp.fc1</c>/<c>mlp.fc2</c>).</summary>
internal sealed class Mlp : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "fc1")]
    private readonly Linear _fc1;

    [ComponentName(Name = "fc2")]
    private readonly Linear _fc2;

    public Mlp(int embedDim, int hiddenDim)
        : base("mlp")
    {
        _fc1 = nn.Linear(embedDim, hiddenDim);
        _fc2 = nn.Linear(hiddenDim, embedDim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var hidden = _fc1.call(x);                           // [B, T, 4D]
        using var activated = nn.functional.gelu(hidden);          // exact erf GELU, as timm
        return _fc2.call(activated);                               // [B, T, D]
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _fc1.Dispose();
            _fc2.Dispose();
        }

        base.Dispose(disposing);
    }
}
