using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Backbones;

/// <summary>Splits an image into patches and projects each to a token: a strided convolution (timm
/// <c>patch_embed</c>).</summary>
internal sealed class PatchEmbedding : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "proj")]
    private readonly Conv2d _proj;

    private readonly VitConfig _config;

    public PatchEmbedding(VitConfig config)
        : base("patch_embed")
    {
        _config = config;
        _proj = nn.Conv2d(config.InChannels, config.EmbedDim, config.PatchSize, stride: config.PatchSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor images)
    {
        if (images.dim() != 4 || images.shape[1] != _config.InChannels ||
            images.shape[2] != _config.ImageHeight || images.shape[3] != _config.ImageWidth)
        {
            throw new ArgumentException(
                $"The backbone expects images [B, {_config.InChannels}, {_config.ImageHeight}, " +
                $"{_config.ImageWidth}]; " +
                $"got [{string.Join(", ", images.shape)}].",
                nameof(images));
        }

        using var patches = _proj.call(images);          // [B, D, gh, gw]
        return patches.flatten(2).transpose(1, 2);       // [B, N, D], row-major over the grid
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _proj.Dispose();
        }

        base.Dispose(disposing);
    }
}
