using TorchSharp;

namespace MLNet.PromptTuning.Data;

/// <summary>
/// Labelled images of one stored size, read in mini-batches one pass at a time. The training loop and validation
/// scoring see only this, so the images may sit in memory (<see cref="ImageTensorDataset"/>) or be re-read from an
/// ML.NET data view in bounded batches every pass.
/// </summary>
internal interface IImageBatchSource
{
    /// <summary>Number of images N.</summary>
    int Count { get; }

    /// <summary>Channels of the stored images (1 or 3).</summary>
    int Channels { get; }

    /// <summary>Height of the stored images in pixels.</summary>
    int Height { get; }

    /// <summary>Width of the stored images in pixels.</summary>
    int Width { get; }

    /// <summary>Largest label plus one (0 for an empty source).</summary>
    int LabelUpperBound { get; }

    /// <summary>
    /// Starts one pass over the images in the order of <paramref name="order"/> (a permutation of 0..N-1), or in
    /// storage order when it is null, in batches of <paramref name="batchSize"/> (the last may be smaller).
    /// </summary>
    IImageBatchStream Open(long[]? order, int batchSize, CancellationToken cancellation);
}

/// <summary>The batches of one pass; dispose it when the pass ends (or is abandoned).</summary>
internal interface IImageBatchStream : IDisposable
{
    /// <summary>
    /// The next batch, as new tensors in the caller's dispose scope: uint8 images [B, C, H, W] and int64 labels [B],
    /// on the CPU.
    /// </summary>
    /// <exception cref="InvalidOperationException">Every batch of the pass was already read.</exception>
    (torch.Tensor Images, torch.Tensor Labels) Next();
}
