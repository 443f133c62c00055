using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Training;
using TorchSharp;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// Scores ML.NET image batches with a prompt-tuned model: the same pixel rounding, resizing and normalisation as
/// training, then one forward pass on the model's device.
/// </summary>
internal sealed partial class PromptViTScorer : IImageBatchScorer, IDisposable
{
    private readonly PromptedVisionTransformer _model;
    private readonly ImagePreprocessor _preprocessor;
    private readonly torch.Device _device;
    private readonly float _pixelValueScale;
    private readonly object _gate = new();

    public PromptViTScorer(PromptedVisionTransformer model, torch.Device device, float pixelValueScale)
    {
        _model = model;
        _device = device;
        _pixelValueScale = pixelValueScale;
        _preprocessor = new ImagePreprocessor(model.Preprocessing);
    }

    /// <summary>Decoded 8-bit images are brought to the model's size and channels at once, with the strip-wise
    /// conversion training uses (byte-identical to resizing in <see cref="ImagePreprocessor"/>), so scoring a photo
    /// never holds it as float32. Float pixel vectors pass through: their size is fixed by the column.</summary>
    public torch.Tensor Prepare(torch.Tensor image)
    {
        var target = _preprocessor.Target;
        return image.dtype == torch.ScalarType.Byte
            ? StoredImageConverter.Convert(image, target.Channels, target.Height, target.Width)
            : image;
    }

    public torch.Tensor ScoreBatch(IReadOnlyList<torch.Tensor> images)
    {
        var pixels = images.Select(image => PixelRounding.ToEightBitRange(image, _pixelValueScale)).ToArray();
        // One forward at a time: PredictionEngines on several threads share this model, and libtorch already uses
        // every core for a single batch.
        lock (_gate)
        {
            var batch = _preprocessor.Process(pixels, _device);                 // [B, C, H, W] normalised
            return _model.Forward(batch, ForwardContext.Inference).Logits;      // [B, classes]
        }
    }

    public void Dispose() => _preprocessor.Dispose();
}
