using TorchSharp;

namespace MLNet.PromptTuning.Data;

/// <summary>
/// Draws one permutation per epoch from its own CPU generator, so the data order depends only on the seed and the
/// epoch, not on how many random numbers the model or the augmentation consumed. Its state is checkpointed.
/// </summary>
internal sealed class EpochShuffler : IDisposable
{
    private readonly torch.Generator _generator;

    public EpochShuffler(long seed)
    {
        _generator = new torch.Generator((ulong)seed, torch.CPU);
    }

    /// <summary>A permutation of 0..count-1, int64 [count] on the CPU (owned by the current dispose scope, if
    /// any).</summary>
    public torch.Tensor NextPermutation(int count) =>
        torch.randperm(count, torch.ScalarType.Int64, torch.CPU, generator: _generator);

    /// <summary>The generator state (a new uint8 tensor the caller owns).</summary>
    public torch.Tensor GetState() => _generator.get_state();

    /// <summary>Restores a state returned by <see cref="GetState"/>.</summary>
    public void SetState(torch.Tensor state) => _generator.set_state(state);

    public void Dispose() => _generator.Dispose();
}
