using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Methods.Tcpa;

/// <summary>
/// One role's per-layer prompt pool: K entries of ℓ prompt tokens each, and (for token-level selection) one learnable
/// key per entry. Every element starts uniform in (−1, 1), as the official code. Parameter names are the official
/// ones (<c>keys</c> [L, K, D], <c>prompts</c> [L, K, ℓ, D]).
/// </summary>
internal sealed class TcpaPromptPool : nn.Module
{
    [ComponentName(Name = "keys")]
    private readonly Parameter? _keys;

    [ComponentName(Name = "prompts")]
    private readonly Parameter _prompts;

    public TcpaPromptPool(string name, int depth, int size, int length, int width, bool withKeys)
        : base(name)
    {
        Size = size;
        Length = length;
        _prompts = new Parameter(torch.empty(depth, size, length, width).uniform_(-1, 1));
        if (withKeys)
        {
            _keys = new Parameter(torch.empty(depth, size, width).uniform_(-1, 1));
        }

        RegisterComponents();
    }

    /// <summary>Number of entries K.</summary>
    public int Size { get; }

    /// <summary>Prompt tokens per entry ℓ.</summary>
    public int Length { get; }

    /// <summary>Prompt tokens per layer, K·ℓ.</summary>
    public int TokenCount => Size * Length;

    /// <summary>Keys [L, K, D], or null without token-level selection.</summary>
    public Parameter? Keys => _keys;

    /// <summary>Layer <paramref name="layer"/>'s prompt tokens, entry-major, [K·ℓ, D].</summary>
    public Tensor PromptsOf(int layer) => _prompts[layer].reshape(TokenCount, -1);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _keys?.Dispose();
            _prompts.Dispose();
        }

        base.Dispose(disposing);
    }
}
