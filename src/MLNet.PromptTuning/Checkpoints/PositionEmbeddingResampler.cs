using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Resizes a learned absolute position embedding to another patch grid, as timm's <c>resample_abs_pos_embed</c>
/// does: prefix rows (the class token) are kept, the grid rows are reshaped to <c>[1, D, h, w]</c>, resized with
/// bicubic interpolation with antialiasing (align_corners false) in float32, and flattened back row-major.
/// </summary>
public static class PositionEmbeddingResampler
{
    /// <summary>Returns a new <c>[1, prefix + gridHeight·gridWidth, D]</c> tensor; the input is not modified.</summary>
    /// <param name="posEmbed">The embedding, <c>[1, prefix + h0·w0, D]</c>.</param>
    /// <param name="gridHeight">Target grid height (image height / patch size). Positive.</param>
    /// <param name="gridWidth">Target grid width. Positive.</param>
    /// <param name="prefixTokens">Rows before the grid that are kept as they are (1 for the class token).</param>
    /// <param name="sourceGrid">The source grid; when null it must be square and is inferred.</param>
    public static Tensor Resample(
        Tensor posEmbed, int gridHeight, int gridWidth, int prefixTokens = 1,
            (int Height, int Width)? sourceGrid = null)
    {
        ArgumentNullException.ThrowIfNull(posEmbed);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(gridHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(gridWidth);
        ArgumentOutOfRangeException.ThrowIfNegative(prefixTokens);
        if (posEmbed.dim() != 3 || posEmbed.shape[0] != 1 || posEmbed.shape[1] <= prefixTokens)
        {
            throw new ArgumentException(
                $"pos_embed has shape [{string.Join(", ", posEmbed.shape)}]; expected [1, {prefixTokens} + grid, D].",
                nameof(posEmbed));
        }

        var gridTokens = posEmbed.shape[1] - prefixTokens;
        var (h0, w0) = sourceGrid ?? InferSquare(gridTokens);
        if ((long)h0 * w0 != gridTokens)
        {
            throw new ArgumentException(
                $"pos_embed has {gridTokens} grid rows, which is not a {h0}x{w0} grid.", nameof(sourceGrid));
        }

        var dim = posEmbed.shape[2];
        using var scope = torch.NewDisposeScope();
        var source = posEmbed.detach().to(ScalarType.Float32);
        var prefix = source.narrow(1, 0, prefixTokens);                                  // [1, P, D]
        var grid = source.narrow(1, prefixTokens, gridTokens)
            .reshape(1, h0, w0, dim).permute(0, 3, 1, 2);                                 // [1, D, h0, w0]
        var resized = torch.nn.functional.interpolate(
            grid, size: [gridHeight, gridWidth], mode: InterpolationMode.Bicubic, align_corners: false,
            antialias: true);                                                             // [1, D, h, w]
        var flat = resized.permute(0, 2, 3, 1).reshape(1, (long)gridHeight * gridWidth, dim); // [1, h·w, D]
        return torch.cat([prefix, flat], 1).to(posEmbed.dtype).contiguous().MoveToOuterDisposeScope();
    }

    private static (int, int) InferSquare(long tokens)
    {
        var side = (int)Math.Round(Math.Sqrt(tokens));
        if ((long)side * side != tokens)
        {
            throw new ArgumentException(
                $"pos_embed has {tokens} grid rows, which is not a square grid; pass the source grid explicitly.",
                "sourceGrid");
        }

        return (side, side);
    }
}
