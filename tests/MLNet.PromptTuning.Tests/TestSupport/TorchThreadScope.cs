using TorchSharp;

namespace MLNet.PromptTuning.Tests.TestSupport;

/// <summary>
/// Sets libtorch's intra-op thread count for the life of a test and restores the previous count after it. Scores are
/// bit-identical only at one thread count, so a test that compares bits (with another run, a stored value or a child
/// process) fixes the count itself instead of inheriting whatever an earlier test left.
/// </summary>
internal sealed class TorchThreadScope : IDisposable
{
    /// <summary>The count the bit-comparing tests use; a child process is given the same.</summary>
    public const int Fixed = 2;

    private readonly int _previous;

    public TorchThreadScope(int threads = Fixed)
    {
        _previous = torch.get_num_threads();
        Threads = threads;
        torch.set_num_threads(threads);
    }

    public int Threads { get; }

    public void Dispose() => torch.set_num_threads(_previous);
}
