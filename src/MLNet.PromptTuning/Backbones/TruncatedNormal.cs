using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Backbones;

/// <summary>
/// Fills a tensor from a truncated normal distribution by inverse-CDF sampling, as PyTorch's
/// <c>nn.init.trunc_normal_</c> does. TorchSharp 0.107.0's own <c>trunc_normal_</c> returns degenerate values
/// (standard deviation near 0 and non-finite entries), so the backbone does not use it.
/// </summary>
internal static class TruncatedNormal
{
    /// <summary>Fills <paramref name="tensor"/> in place; <paramref name="lower"/>/<paramref name="upper"/> are
    /// absolute bounds (timm's -2, 2).</summary>
    public static void Fill(Tensor tensor, double std, double mean = 0, double lower = -2, double upper = 2)
    {
        using var noGrad = torch.no_grad();
        double lowCdf = NormalCdf((lower - mean) / std);
        double highCdf = NormalCdf((upper - mean) / std);
        tensor.uniform_(2 * lowCdf - 1, 2 * highCdf - 1);
        tensor.erfinv_();
        tensor.mul_(std * Math.Sqrt(2.0));
        tensor.add_(mean);
        tensor.clamp_(lower, upper);
    }

    private static double NormalCdf(double x) => (1.0 + Erf(x / Math.Sqrt(2.0))) / 2.0;

    /// <summary>The error function, computed by libtorch in float64 (.NET has none).</summary>
    private static double Erf(double x)
    {
        using var value = torch.tensor(x, torch.ScalarType.Float64);
        using var result = torch.special.erf(value);
        return result.item<double>();
    }
}
