using TorchSharp;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// Every training image's frozen features and label, filled during the first epoch (or the first after a resume) and
/// read by index afterwards: float32 [N, D] on the CPU, 3 KiB per image for ViT-B.
/// </summary>
internal sealed class FrozenFeatureStore : IDisposable
{
    private readonly bool[] _filled;
    private readonly long[] _labels;
    private torch.Tensor? _features;
    private int _count;

    public FrozenFeatureStore(int images)
    {
        _filled = new bool[images];
        _labels = new long[images];
    }

    /// <summary>True once every image's features are stored.</summary>
    public bool IsComplete => _count == _filled.Length;

    /// <summary>Stores the features [B, D] and labels [B] of the images at <paramref name="indices"/>.</summary>
    public void Put(ReadOnlySpan<long> indices, torch.Tensor features, torch.Tensor labels)
    {
        using var scope = torch.NewDisposeScope();
        _features ??= torch.empty(new long[] { _filled.Length, features.shape[1] }, torch.ScalarType.Float32)
            .DetachFromDisposeScope();
        var rows = torch.tensor(indices.ToArray(), new long[] { indices.Length }, torch.ScalarType.Int64);
        _features.index_copy_(0, rows, features.detach().cpu());
        long[] values = labels.cpu().data<long>().ToArray();
        for (int i = 0; i < indices.Length; i++)
        {
            int index = (int)indices[i];
            _labels[index] = values[i];
            if (!_filled[index])
            {
                _filled[index] = true;
                _count++;
            }
        }
    }

    /// <summary>Features [B, D] and labels [B] of the images at <paramref name="indices"/>, in the caller's dispose
    /// scope.</summary>
    public (torch.Tensor Features, torch.Tensor Labels) Get(ReadOnlySpan<long> indices)
    {
        var rows = torch.tensor(indices.ToArray(), new long[] { indices.Length }, torch.ScalarType.Int64);
        var labels = new long[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            labels[i] = _labels[indices[i]];
        }

        return (_features!.index_select(0, rows), torch.tensor(labels, new long[] { labels.Length }));
    }

    public void Dispose() => _features?.Dispose();
}
