using TorchSharp;

namespace MLNet.PromptTuning.Runtime;

/// <summary>
/// Intra-op thread count of libtorch. CPU results are bit-identical run to run only at a fixed thread count, so
/// training fixes it when the user asks for it (it is process-wide state).
/// </summary>
internal static class TorchThreads
{
    /// <summary>Sets the intra-op thread count when <paramref name="threads"/> has a value; returns the count in
    /// effect.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is not positive.</exception>
    public static int Configure(int? threads, string optionName = "NumberOfThreads")
    {
        if (threads is { } n)
        {
            if (n <= 0)
            {
                throw new ArgumentOutOfRangeException(optionName, n,
                    $"{optionName} must be positive or null (keep libtorch's default).");
            }

            if (torch.get_num_threads() != n)
            {
                torch.set_num_threads(n);
            }
        }

        return torch.get_num_threads();
    }
}
