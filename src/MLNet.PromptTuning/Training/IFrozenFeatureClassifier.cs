using TorchSharp;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// A classifier whose head reads features that may depend on the image alone (a linear probe on a frozen backbone).
/// When <see cref="HasFrozenFeatures"/> holds and no augmentation is on, the training loop computes every image's
/// features once (<see cref="FrozenFeatureStore"/>) and trains only the head in later epochs, without reading or
/// decoding the images again.
/// </summary>
internal interface IFrozenFeatureClassifier
{
    /// <summary>True when nothing before the head trains or draws random numbers.</summary>
    bool HasFrozenFeatures { get; }

    /// <summary>The head's input for normalised images [B, C, H, W], without gradients: float32 [B, D].</summary>
    torch.Tensor ComputeFeatures(torch.Tensor images, ForwardContext context);

    /// <summary>The head: float32 logits [B, classes] from features [B, D].</summary>
    torch.Tensor Classify(torch.Tensor features);
}
