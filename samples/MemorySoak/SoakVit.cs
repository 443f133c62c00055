using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Training;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Samples.MemorySoak;

/// <summary>
/// The "small" configuration of the performance baseline (D 192, 6 blocks, 3 heads, patch 4, 28×28×1) with
/// VPT-Deep prompts: a frozen pre-norm ViT, trainable per-block prompts and a trainable head. Self-contained so the
/// soak test does not depend on the library's backbone.
/// </summary>
internal sealed class SoakVit : nn.Module<Tensor, Tensor>, ITrainableClassifier
{
    [ComponentName(Name = "patch_embed")]
    private readonly Conv2d _patchEmbed;

    [ComponentName(Name = "cls_token")]
    private readonly Parameter _clsToken;

    [ComponentName(Name = "pos_embed")]
    private readonly Parameter _posEmbed;

    [ComponentName(Name = "blocks")]
    private readonly ModuleList<SoakBlock> _blocks;

    [ComponentName(Name = "norm")]
    private readonly LayerNorm _norm;

    [ComponentName(Name = "prompts")]
    private readonly Parameter _prompts;

    [ComponentName(Name = "head")]
    private readonly Linear _head;

    private readonly int _promptCount;

    public SoakVit(int imageSize = 28, int channels = 1, int patch = 4, int dim = 192, int depth = 6, int heads = 3,
        int prompts = 10, int classes = 10)
        : base("soak_vit")
    {
        var tokens = (imageSize / patch) * (imageSize / patch);
        _patchEmbed = nn.Conv2d(channels, dim, patch, stride: patch);
        _clsToken = new Parameter(randn(1, 1, dim) * 0.02);
        _posEmbed = new Parameter(randn(1, 1 + tokens, dim) * 0.02);
        _blocks = new ModuleList<SoakBlock>(Enumerable.Range(0, depth).Select(_ => new SoakBlock(dim, heads)).ToArray());
        _norm = nn.LayerNorm(dim, eps: 1e-6);
        _prompts = new Parameter(empty(depth, prompts, dim).uniform_(-0.0625, 0.0625));
        _head = nn.Linear(dim, classes);
        _promptCount = prompts;
        NumberOfClasses = classes;
        Preprocessing = new ImagePreprocessing(imageSize, imageSize, channels, Enumerable.Repeat(0.5f, channels).ToArray(),
            Enumerable.Repeat(0.5f, channels).ToArray());
        RegisterComponents();
        foreach (var (name, p) in named_parameters())
        {
            p.requires_grad = name == "prompts" || name.StartsWith("head.", StringComparison.Ordinal);
        }
    }

    public nn.Module Module => this;

    public void MoveTo(Device device) => this.to(device);

    public int NumberOfClasses { get; }

    public ImagePreprocessing Preprocessing { get; }

    public ClassifierOutput Forward(Tensor images, ForwardContext context) => new(forward(images), Array.Empty<AuxiliaryLoss>());

    public IReadOnlyList<ParameterGroup> GetParameterGroups() => new[]
    {
        new ParameterGroup("prompt.vpt", new[] { _prompts }, ApplyWeightDecay: false),
        new ParameterGroup("head", _head.parameters().ToArray()),
    };

    public void SetTrainingMode(bool training) => eval(); // no dropout anywhere: the frozen backbone stays in eval

    public override Tensor forward(Tensor images)
    {
        var b = images.shape[0];
        var x = _patchEmbed.forward(images).flatten(2).transpose(1, 2); // [B, N, D]
        x = cat(new[] { _clsToken.expand(b, -1, -1), x }, 1) + _posEmbed; // [B, 1+N, D]
        for (int l = 0; l < _blocks.Count; l++)
        {
            var prompt = _prompts[l].unsqueeze(0).expand(b, -1, -1); // [B, P, D]
            var patches = l == 0 ? x[.., 1..] : x[.., (1 + _promptCount)..];
            x = _blocks[l].forward(cat(new[] { x[.., ..1], prompt, patches }, 1)); // [B, 1+P+N, D]
        }

        return _head.forward(_norm.forward(x)[.., 0]); // [B, classes]
    }
}

internal sealed class SoakBlock : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "norm1")]
    private readonly LayerNorm _norm1;

    [ComponentName(Name = "qkv")]
    private readonly Linear _qkv;

    [ComponentName(Name = "proj")]
    private readonly Linear _proj;

    [ComponentName(Name = "norm2")]
    private readonly LayerNorm _norm2;

    [ComponentName(Name = "fc1")]
    private readonly Linear _fc1;

    [ComponentName(Name = "fc2")]
    private readonly Linear _fc2;

    private readonly int _heads;

    public SoakBlock(int dim, int heads)
        : base("block")
    {
        _norm1 = nn.LayerNorm(dim, eps: 1e-6);
        _qkv = nn.Linear(dim, 3 * dim);
        _proj = nn.Linear(dim, dim);
        _norm2 = nn.LayerNorm(dim, eps: 1e-6);
        _fc1 = nn.Linear(dim, 4 * dim);
        _fc2 = nn.Linear(4 * dim, dim);
        _heads = heads;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        long b = x.shape[0], t = x.shape[1], d = x.shape[2];
        var qkv = _qkv.forward(_norm1.forward(x)).reshape(b, t, 3, _heads, d / _heads).permute(2, 0, 3, 1, 4); // [3, B, H, T, d]
        var attended = nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2]); // [B, H, T, d]
        x = x + _proj.forward(attended.transpose(1, 2).reshape(b, t, d));
        return x + _fc2.forward(nn.functional.gelu(_fc1.forward(_norm2.forward(x))));
    }
}
