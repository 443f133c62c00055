using MLNet.PromptTuning.Data;
using TorchSharp;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// The training engine's whole view of a model. The engine knows nothing about Vision Transformers or prompts:
/// it feeds normalised image batches, adds the auxiliary losses, and updates the parameter groups.
/// </summary>
public interface ITrainableClassifier
{
    /// <summary>The TorchSharp module holding the trainable parameters (its state is what checkpoints save).</summary>
    torch.nn.Module Module { get; }

    /// <summary>Moves everything the forward pass uses (including a shared frozen backbone) to <paramref
    /// name="device"/>.</summary>
    void MoveTo(torch.Device device);

    /// <summary>Number of classes the head predicts.</summary>
    int NumberOfClasses { get; }

    /// <summary>
    /// The learning rate and warm-up this model trains well with, used when <see cref="TrainingOptions"/> leaves them
    /// unset. Default <see cref="TrainingDefaults.Generic"/>.
    /// </summary>
    TrainingDefaults TrainingDefaults => TrainingDefaults.Generic;

    /// <summary>The input contract: images are resized and normalised to this before <see cref="Forward"/>.</summary>
    ImagePreprocessing Preprocessing { get; }

    /// <summary>
    /// Runs the model on normalised images [B, C, H, W] (float, on the module's device).
    /// </summary>
    /// <param name="images">Normalised images matching <see cref="Preprocessing"/>.</param>
    /// <param name="context">Whether this is a training pass and which epoch it belongs to.</param>
    ClassifierOutput Forward(torch.Tensor images, ForwardContext context);

    /// <summary>The trainable parameters, grouped by optimiser settings. Frozen parameters are not listed.</summary>
    IReadOnlyList<ParameterGroup> GetParameterGroups();

    /// <summary>
    /// Puts trainable parts in training mode (prompt dropout on) or everything in evaluation mode. A frozen backbone
    /// stays in evaluation mode either way.
    /// </summary>
    void SetTrainingMode(bool training);
}

/// <summary>Per-forward information the engine passes to the model.</summary>
/// <param name="IsTraining">True for an optimisation step, false for validation and scoring.</param>
/// <param name="Epoch">Zero-based epoch of a training pass; -1 outside training.</param>
public readonly record struct ForwardContext(bool IsTraining, int Epoch)
{
    /// <summary>The context for validation and scoring.</summary>
    public static ForwardContext Inference => new(false, -1);
}
