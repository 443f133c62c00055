using System.Text.Json.Serialization;
using MLNet.PromptTuning.Data;

namespace MLNet.PromptTuning.Backbones;

/// <summary>
/// The architecture of a Vision Transformer, with timm's semantics: pre-norm blocks, fused qkv projection with
/// bias, exact GELU, LayerNorm eps 1e-6, a class token and a learned position embedding.
/// Named variants are in <see cref="VitVariants"/>.
/// </summary>
public sealed record VitConfig
{
    /// <summary>Variant name, for manifests and logs (for example <c>vit_base_patch16_224</c>).</summary>
    public string Name { get; init; } = "vit_custom";

    /// <summary>Input height in pixels; a multiple of <see cref="PatchSize"/>.</summary>
    public int ImageHeight { get; init; } = 224;

    /// <summary>Input width in pixels; a multiple of <see cref="PatchSize"/>.</summary>
    public int ImageWidth { get; init; } = 224;

    /// <summary>Side of the square patches (16, 14, 8, 4, ...).</summary>
    public int PatchSize { get; init; } = 16;

    /// <summary>Image channels: 3 (RGB) or 1 (grayscale).</summary>
    public int InChannels { get; init; } = 3;

    /// <summary>Token width D.</summary>
    public int EmbedDim { get; init; } = 768;

    /// <summary>Number of transformer blocks L.</summary>
    public int Depth { get; init; } = 12;

    /// <summary>Number of attention heads H; must divide <see cref="EmbedDim"/>.</summary>
    public int NumHeads { get; init; } = 12;

    /// <summary>Hidden width of the MLP as a multiple of <see cref="EmbedDim"/> (4 in every standard ViT).</summary>
    public double MlpRatio { get; init; } = 4.0;

    /// <summary>Whether the fused qkv projection has a bias (true for timm, MAE, MoCo v3 and Google ViTs).</summary>
    public bool QkvBias { get; init; } = true;

    /// <summary>LayerNorm epsilon: 1e-6 for timm ViTs.</summary>
    public double LayerNormEps { get; init; } = 1e-6;

    /// <summary>How features are pooled for the head.</summary>
    public GlobalPooling GlobalPooling { get; init; } = GlobalPooling.ClassToken;

    /// <summary>
    /// When true the final LayerNorm is named <c>fc_norm</c> and applied after pooling (timm's layout for
    /// average-pooled models); when false it is <c>norm</c> and applied to every token before pooling.
    /// </summary>
    public bool UseFcNorm { get; init; }

    /// <summary>The preprocessing the pretrained weights expect.</summary>
    public ImagePreprocessing Preprocessing { get; init; } = ImagePreprocessing.ImageNet();

    /// <summary>Patch grid height.</summary>
    [JsonIgnore]
    public int GridHeight => ImageHeight / PatchSize;

    /// <summary>Patch grid width.</summary>
    [JsonIgnore]
    public int GridWidth => ImageWidth / PatchSize;

    /// <summary>Number of patch tokens N.</summary>
    [JsonIgnore]
    public int NumPatches => GridHeight * GridWidth;

    /// <summary>Number of prefix tokens before the patches (the class token).</summary>
    [JsonIgnore]
    public int NumPrefixTokens => 1;

    /// <summary>Width of one attention head.</summary>
    [JsonIgnore]
    public int HeadDim => EmbedDim / NumHeads;

    /// <summary>Hidden width of the MLP.</summary>
    [JsonIgnore]
    public int MlpHiddenDim => (int)(EmbedDim * MlpRatio);

    /// <summary>Returns this configuration for another input size (the position embedding is resampled on
    /// load).</summary>
    public VitConfig WithImageSize(int height, int width) => this with
    {
        ImageHeight = height,
        ImageWidth = width,
        Preprocessing = Preprocessing with { Height = height, Width = width },
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid property, its value and what is
    /// expected.</summary>
    public void Validate()
    {
        Require(PatchSize > 0, nameof(PatchSize), PatchSize, "a positive patch size");
        Require(ImageHeight > 0 && ImageHeight % PatchSize == 0, nameof(ImageHeight), ImageHeight,
            $"a positive multiple of PatchSize ({PatchSize})");
        Require(ImageWidth > 0 && ImageWidth % PatchSize == 0, nameof(ImageWidth), ImageWidth,
            $"a positive multiple of PatchSize ({PatchSize})");
        Require(InChannels == 1 || InChannels == 3, nameof(InChannels), InChannels, "1 or 3");
        Require(EmbedDim > 0, nameof(EmbedDim), EmbedDim, "a positive width");
        Require(Depth > 0, nameof(Depth), Depth, "at least one block");
        Require(NumHeads > 0 && EmbedDim % NumHeads == 0, nameof(NumHeads), NumHeads,
            $"a positive divisor of EmbedDim ({EmbedDim})");
        Require(MlpRatio > 0, nameof(MlpRatio), MlpRatio, "a positive ratio");
        Require(LayerNormEps > 0, nameof(LayerNormEps), LayerNormEps, "a positive epsilon");
        Require(Preprocessing.Channels == InChannels, nameof(Preprocessing), Preprocessing.Channels,
            $"preprocessing for {InChannels} channel(s)");
        Preprocessing.Validate();
    }

    private static void Require(bool condition, string property, object value, string expected)
    {
        if (!condition)
        {
            throw new ArgumentException($"VitConfig.{property} is {value}; expected {expected}.", property);
        }
    }
}
