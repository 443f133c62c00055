using TorchSharp;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// The model behind <see cref="ImageScoringCore"/>: maps a batch of images to class logits. It knows nothing about
/// ML.NET; the core handles columns, batching, softmax and annotations.
/// </summary>
internal interface IImageBatchScorer
{
    /// <summary>
    /// Scores one batch. Called inside a dispose scope and <c>torch.no_grad()</c>; the inputs die with the scope, so
    /// keep no reference to them.
    /// </summary>
    /// <param name="images">B ≥ 1 tensors [C, H, W] as <see cref="ImageRowReader"/> made them: <c>uint8</c> (0–255) or
    /// <c>float32</c> (values as in the column), on the CPU. Sizes can differ between rows, so resizing is the
    /// scorer's job.</param>
    /// <returns>Logits [B, NumberOfClasses], any floating dtype and device; the core applies softmax.</returns>
    torch.Tensor ScoreBatch(IReadOnlyList<torch.Tensor> images);

    /// <summary>
    /// Brings one image, as soon as it is read, to the form <see cref="ScoreBatch"/> takes, so a batch of photos is
    /// never gathered at source size. Called inside the row's own dispose scope: return a new tensor (the input dies
    /// with the scope) or the input itself. By default the image passes through.
    /// </summary>
    /// <param name="image">[C, H, W] as <see cref="ImageRowReader"/> made it.</param>
    /// <returns>An image that <see cref="ScoreBatch"/> scores exactly as it would score
    /// <paramref name="image"/>.</returns>
    torch.Tensor Prepare(torch.Tensor image) => image;
}
