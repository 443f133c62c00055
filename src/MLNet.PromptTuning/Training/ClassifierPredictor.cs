using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Runtime;
using TorchSharp;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// Batched scoring of a trained classifier: preprocessing without augmentation, the model in evaluation mode, no
/// autograd, and one dispose scope per batch so memory stays flat however many images are scored.
/// </summary>
public sealed class ClassifierPredictor
{
    private readonly ITrainableClassifier _model;
    private readonly torch.Device _device;
    private readonly TrainingPrecision _precision;

    /// <summary>Moves <paramref name="model"/> to the device (<see cref="ITrainableClassifier.MoveTo"/>) and prepares
    /// it for scoring.</summary>
    /// <param name="model">The classifier (left in evaluation mode).</param>
    /// <param name="device">Device string as in <see cref="TrainingOptions.Device"/>. Default <c>auto</c>.</param>
    /// <param name="precision">Forward precision, as in training. Default float32.</param>
    /// <param name="batchSize">Images per scoring batch. Default 64; must be positive.</param>
    /// <exception cref="ArgumentException">An argument is invalid.</exception>
    /// <exception cref="NotSupportedException">CUDA was requested but is not available.</exception>
    public ClassifierPredictor(
        ITrainableClassifier model, string device = "auto", TrainingPrecision precision = TrainingPrecision.Float32,
            int batchSize = 64)
        : this(model, TorchDevices.Resolve(device), precision, batchSize)
    {
    }

    internal ClassifierPredictor(ITrainableClassifier model, torch.Device device, TrainingPrecision precision,
        int batchSize)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (batchSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize,
                $"batchSize must be positive; got {batchSize}.");
        }

        _model = model;
        _device = device;
        _precision = precision;
        BatchSize = batchSize;
        model.MoveTo(device);
    }

    /// <summary>Images per scoring batch.</summary>
    public int BatchSize { get; }

    /// <summary>The device the model runs on.</summary>
    public torch.Device Device => _device;

    /// <summary>Softmax class probabilities for every image of <paramref name="data"/>, in dataset order.</summary>
    /// <returns>float32 [N, classes] on the CPU; the caller owns it.</returns>
    public torch.Tensor PredictScores(ImageTensorDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return PredictScores(data.Images);
    }

    /// <summary>Softmax class probabilities for a stack of images of any size (scored in batches of <see
    /// cref="BatchSize"/>).</summary>
    /// <param name="images">uint8 (or float in [0, 255]) images [N, C, H, W] with C = 1 or 3.</param>
    /// <returns>float32 [N, classes] on the CPU; the caller owns it.</returns>
    public torch.Tensor PredictScores(torch.Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        using var preprocessor = new ImagePreprocessor(_model.Preprocessing);
        var count = images.shape[0];
        var result = torch.empty(new[] { count, (long)_model.NumberOfClasses },
            torch.ScalarType.Float32).DetachFromDisposeScope();
        ForEachBatch(preprocessor, images, (logits, start) =>
        {
            var probabilities = torch.nn.functional.softmax(logits, 1).cpu(); // [B, C]
            result.narrow(0, start, probabilities.shape[0]).copy_(probabilities);
        });
        return result;
    }

    /// <summary>Top-1 accuracy on <paramref name="data"/>, in [0, 1] (0 for an empty set).</summary>
    public double Accuracy(ImageTensorDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        using var preprocessor = new ImagePreprocessor(_model.Preprocessing);
        return Accuracy(data, preprocessor);
    }

    internal double Accuracy(IImageBatchSource data, ImagePreprocessor preprocessor,
        CancellationToken cancellation = default)
    {
        if (data.Count == 0)
        {
            return 0;
        }

        _model.SetTrainingMode(false);
        using var noGrad = torch.no_grad();
        using var batches = data.Open(null, BatchSize, cancellation);
        long correct = 0;
        for (long start = 0; start < data.Count; start += BatchSize)
        {
            using var scope = torch.NewDisposeScope();
            var (images, labels) = batches.Next(); // [B, C, H, W], [B]
            var predicted = Logits(preprocessor, images).argmax(1); // [B]
            correct += predicted.eq(labels.to(_device)).sum().item<long>();
        }

        return correct / (double)data.Count;
    }

    /// <summary>Runs the model on consecutive batches; <paramref name="consume"/> sees float32 logits [B, C] inside the
    /// batch's scope.</summary>
    private void ForEachBatch(ImagePreprocessor preprocessor, torch.Tensor images, Action<torch.Tensor, long> consume)
    {
        if (images.dim() != 4)
        {
            throw new ArgumentException($"Expected images [N, C, H, W]; got shape [{string.Join(", ", images.shape)}].",
                nameof(images));
        }

        _model.SetTrainingMode(false);
        using var noGrad = torch.no_grad();
        var count = images.shape[0];
        for (long start = 0; start < count; start += BatchSize)
        {
            using var scope = torch.NewDisposeScope();
            var length = Math.Min(BatchSize, count - start);
            consume(Logits(preprocessor, images.narrow(0, start, length)), start);
        }
    }

    /// <summary>float32 logits [B, classes] of one batch of images, in the caller's scope.</summary>
    private torch.Tensor Logits(ImagePreprocessor preprocessor, torch.Tensor images)
    {
        var x = preprocessor.Process(images, _device); // [B, C, H, W]
        if (_precision == TrainingPrecision.BFloat16)
        {
            x = x.to_type(torch.ScalarType.BFloat16);
        }

        var logits = _model.Forward(x, ForwardContext.Inference).Logits;
        return logits.dtype == torch.ScalarType.Float32 ? logits : logits.to_type(torch.ScalarType.Float32);
    }
}
