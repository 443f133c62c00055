using TorchSharp;

namespace MLNet.PromptTuning.Tests;

internal static class TensorExtensions
{
    /// <summary>Same shape, dtype and element values (TorchSharp's <c>equal</c> is element-wise, not a whole-tensor
    /// test).</summary>
    public static bool IsSameAs(this torch.Tensor a, torch.Tensor b)
    {
        if (a.dtype != b.dtype || !a.shape.SequenceEqual(b.shape))
        {
            return false;
        }

        using var scope = torch.NewDisposeScope();
        return a.eq(b).all().item<bool>();
    }
}
