using TorchSharp;

namespace MLNet.PromptTuning.Data;

/// <summary>
/// Turns a batch of 8-bit images into the normalised float input of a model: channel conversion, optional training
/// augmentation, resizing to the model's size, scaling to [0, 1] and per-channel normalisation, on the target device.
/// </summary>
/// <remarks>
/// The steps, in order:
/// <list type="number">
/// <item>Move the batch to the device (as uint8, the cheapest transfer) and convert to float32 in [0, 255].</item>
/// <item>Channels: grayscale to RGB repeats the channel; RGB to grayscale uses the ITU-R BT.601 luma weights
/// (0.299 R + 0.587 G + 0.114 B), rounded to 8-bit values as PIL's <c>convert("L")</c> does.</item>
/// <item>Training augmentation when requested: random resized crop (area scale in [0.08, 1], aspect ratio in
/// [3/4, 4/3], as torchvision's <c>RandomResizedCrop</c>) resized to the model size, and a horizontal flip with
/// probability 0.5. Both are off unless enabled, and draw from this preprocessor's own generator.</item>
/// <item>Resize to the model size only when the size differs, as PIL's bicubic filter does (which timm's transforms
/// use): antialiased bicubic, horizontal pass then vertical pass, each rounded and clamped to 8-bit values. The
/// result matches PIL to within one level.</item>
/// <item>Scale to [0, 1] and normalise: <c>(x / 255 - mean) / std</c>.</item>
/// </list>
/// Inputs may also be float tensors holding values in [0, 255] (for example ML.NET pixel vectors).
/// </remarks>
public sealed class ImagePreprocessor : IDisposable
{
    /// <summary>Smallest fraction of the image area a random resized crop keeps (torchvision's default).</summary>
    public const double CropScaleMin = 0.08;

    /// <summary>Largest fraction of the image area a random resized crop keeps.</summary>
    public const double CropScaleMax = 1.0;

    /// <summary>Smallest aspect ratio (width / height) of a random resized crop.</summary>
    public const double CropRatioMin = 3.0 / 4.0;

    /// <summary>Largest aspect ratio (width / height) of a random resized crop.</summary>
    public const double CropRatioMax = 4.0 / 3.0;

    private const int CropAttempts = 10;
    private const double LumaRed = 0.299;
    private const double LumaGreen = 0.587;
    private const double LumaBlue = 0.114;

    private readonly torch.Generator _generator;
    private bool _disposed;

    /// <summary>Creates a preprocessor for <paramref name="target"/>.</summary>
    /// <param name="target">The model's input contract (validated).</param>
    /// <param name="randomResizedCrop">Whether training batches get a random resized crop. Default false.</param>
    /// <param name="horizontalFlip">Whether training batches are flipped left-right with probability 0.5. Default
    /// false.</param>
    /// <param name="seed">Seed of the augmentation generator.</param>
    /// <exception cref="ArgumentException"><paramref name="target"/> is invalid.</exception>
    public ImagePreprocessor(ImagePreprocessing target, bool randomResizedCrop = false, bool horizontalFlip = false,
        long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(target);
        target.Validate();
        Target = target;
        RandomResizedCrop = randomResizedCrop;
        HorizontalFlip = horizontalFlip;
        _generator = new torch.Generator((ulong)seed, torch.CPU);
    }

    /// <summary>The input contract batches are converted to.</summary>
    public ImagePreprocessing Target { get; }

    /// <summary>Whether augmented batches get a random resized crop.</summary>
    public bool RandomResizedCrop { get; }

    /// <summary>Whether augmented batches are flipped left-right with probability 0.5.</summary>
    public bool HorizontalFlip { get; }

    /// <summary>
    /// Converts a batch. Call inside a dispose scope: the result and all intermediates belong to the current scope.
    /// </summary>
    /// <param name="images">uint8 (or float in [0, 255]) images [B, C, H, W] with C = 1 or 3, any size.</param>
    /// <param name="device">Device of the result.</param>
    /// <param name="augment">True for training batches: applies the enabled augmentations.</param>
    /// <returns>float32 [B, Target.Channels, Target.Height, Target.Width] on <paramref name="device"/>.</returns>
    /// <exception cref="ArgumentException">The batch has the wrong rank, dtype or channel count.</exception>
    public torch.Tensor Process(torch.Tensor images, torch.Device device, bool augment = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(device);
        if (images.dim() != 4 || (images.shape[1] != 1 && images.shape[1] != 3))
        {
            throw new ArgumentException(
                $"Expected images [B, C, H, W] with C = 1 or 3; got shape " +
                $"[{string.Join(", ", images.shape)}].", nameof(images));
        }

        CheckDType(images, "images");
        var x = ToTargetPixels(images, device, augment); // [B, C, H, W] in [0, 255]
        return Normalize(x, device);
    }

    /// <summary>
    /// Converts images of possibly different sizes (as an ML.NET scoring batch delivers them) into one normalised
    /// batch, without augmentation. Call inside a dispose scope.
    /// </summary>
    /// <param name="images">B ≥ 1 uint8 (or float in [0, 255]) images [C, H, W], C = 1 or 3, any sizes.</param>
    /// <param name="device">Device of the result.</param>
    /// <returns>float32 [B, Target.Channels, Target.Height, Target.Width] on <paramref name="device"/>.</returns>
    /// <exception cref="ArgumentException">The list is empty or an image has the wrong rank, dtype or channel
    /// count.</exception>
    public torch.Tensor Process(IReadOnlyList<torch.Tensor> images, torch.Device device)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(device);
        if (images.Count == 0)
        {
            throw new ArgumentException("Expected at least one image.", nameof(images));
        }

        var converted = new torch.Tensor[images.Count];
        for (int i = 0; i < images.Count; i++)
        {
            if (images[i].dim() != 3 || (images[i].shape[0] != 1 && images[i].shape[0] != 3))
            {
                throw new ArgumentException(
                    $"Image {i} must be [C, H, W] with C = 1 or 3; got shape [{string.Join(", ", images[i].shape)}].",
                    nameof(images));
            }

            CheckDType(images[i], $"image {i}");

            converted[i] = ToTargetPixels(images[i].unsqueeze(0), device, augment: false); // [1, C, H, W]
        }

        return Normalize(torch.cat(converted, 0), device); // [B, C, H, W]
    }

    private static void CheckDType(torch.Tensor images, string what)
    {
        if (images.dtype != torch.ScalarType.Byte && images.dtype != torch.ScalarType.Float32)
        {
            throw new ArgumentException($"Expected uint8 or float32 pixels for {what}; got {images.dtype}.",
                nameof(images));
        }
    }

    private torch.Tensor ToTargetPixels(torch.Tensor images, torch.Device device, bool augment)
    {
        var x = images.to(device).to_type(torch.ScalarType.Float32); // [B, C, h, w] in [0, 255]
        x = ConvertChannels(x, Target.Channels);

        bool resized = false;
        if (augment && RandomResizedCrop)
        {
            x = CropAndResize(x);
            resized = true;
        }

        if (!resized && (x.shape[2] != Target.Height || x.shape[3] != Target.Width))
        {
            x = Resize(x, Target.Height, Target.Width);
        }

        if (augment && HorizontalFlip)
        {
            x = Flip(x);
        }

        return x;
    }

    private torch.Tensor Normalize(torch.Tensor x, torch.Device device)
    {
        var mean = torch.tensor(Target.Mean, new long[] { 1, Target.Channels, 1, 1 }, device: device);
        var std = torch.tensor(Target.Std, new long[] { 1, Target.Channels, 1, 1 }, device: device);
        // An explicit scalar, alive until the call returns: an implicit double-to-Scalar temporary can be finalized
        // by the garbage collector while libtorch still reads it (a 50,000-image Fit failed here with "Unknown scalar
        // type").
        using var pixelRange = 255.0.ToScalar();
        return x.div(pixelRange).sub(mean).div(std); // [B, C, H, W]
    }

    /// <summary>The augmentation generator's state (a new uint8 tensor the caller owns), for checkpoints.</summary>
    internal torch.Tensor GetAugmentationState() => _generator.get_state();

    /// <summary>Restores a state from <see cref="GetAugmentationState"/>.</summary>
    internal void SetAugmentationState(torch.Tensor state) => _generator.set_state(state);

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _generator.Dispose();
        }
    }

    internal static torch.Tensor ConvertChannels(torch.Tensor x, int channels)
    {
        var have = x.shape[1];
        if (have == channels)
        {
            return x;
        }

        if (have == 1)
        {
            return x.expand(-1, channels, -1, -1); // [B, 3, h, w]
        }

        var luma = x[.., 0..1].mul(LumaRed)
            .add(x[.., 1..2].mul(LumaGreen))
            .add(x[.., 2..3].mul(LumaBlue)); // [B, 1, h, w]
        return luma.round().clamp(0, 255);
    }

    /// <summary>
    /// PIL's two-pass bicubic resize: horizontal first, then vertical, each pass rounded and clamped to 8 bits (the
    /// clamp between passes matters next to sharp edges). A pass at unchanged size is skipped; with antialiasing the
    /// other axis at scale 1 is an exact identity.
    /// </summary>
    internal static torch.Tensor Resize(torch.Tensor x, long height, long width)
    {
        if (x.shape[3] != width)
        {
            x = Interpolate(x, x.shape[2], width); // [B, C, h, W]
        }

        if (x.shape[2] != height)
        {
            x = Interpolate(x, height, width); // [B, C, H, W]
        }

        return x;
    }

    private static torch.Tensor Interpolate(torch.Tensor x, long height, long width) =>
        Resample(x, height, width).round().clamp(0, 255);

    /// <summary>One antialiased bicubic pass without rounding: linear in <paramref name="x"/> (the ONNX export
    /// turns it into a matrix).</summary>
    internal static torch.Tensor Resample(torch.Tensor x, long height, long width) =>
        torch.nn.functional.interpolate(
            x, size: new[] { height, width }, mode: torch.InterpolationMode.Bicubic, align_corners: false,
            antialias: true);

    /// <summary>
    /// torchvision's <c>RandomResizedCrop.get_params</c>: up to ten tries of a random area and log-uniform aspect
    /// ratio, then a centre crop clamped to the ratio range. <paramref name="draws"/> holds four uniforms per try.
    /// </summary>
    internal static (int Top, int Left, int Height, int Width) SampleCropBox(int height, int width,
        ReadOnlySpan<float> draws)
    {
        double area = (double)height * width;
        double logMin = Math.Log(CropRatioMin), logMax = Math.Log(CropRatioMax);
        for (int attempt = 0; attempt < CropAttempts; attempt++)
        {
            var u = draws.Slice(attempt * 4, 4);
            double targetArea = area * (CropScaleMin + u[0] * (CropScaleMax - CropScaleMin));
            double aspect = Math.Exp(logMin + u[1] * (logMax - logMin));
            int w = (int)Math.Round(Math.Sqrt(targetArea * aspect));
            int h = (int)Math.Round(Math.Sqrt(targetArea / aspect));
            if (w > 0 && w <= width && h > 0 && h <= height)
            {
                int top = Math.Min((int)(u[2] * (height - h + 1)), height - h);
                int left = Math.Min((int)(u[3] * (width - w + 1)), width - w);
                return (top, left, h, w);
            }
        }

        double inRatio = (double)width / height;
        int cw, ch;
        if (inRatio < CropRatioMin)
        {
            cw = width;
            ch = (int)Math.Round(cw / CropRatioMin);
        }
        else if (inRatio > CropRatioMax)
        {
            ch = height;
            cw = (int)Math.Round(ch * CropRatioMax);
        }
        else
        {
            cw = width;
            ch = height;
        }

        return ((height - ch) / 2, (width - cw) / 2, ch, cw);
    }

    private torch.Tensor CropAndResize(torch.Tensor x)
    {
        int batch = (int)x.shape[0], height = (int)x.shape[2], width = (int)x.shape[3];
        float[] draws;
        using (var u = torch.rand(new long[] { batch, CropAttempts * 4 }, generator: _generator))
        {
            draws = u.data<float>().ToArray();
        }

        var crops = new torch.Tensor[batch];
        for (int i = 0; i < batch; i++)
        {
            var (top, left, h, w) = SampleCropBox(height, width, draws.AsSpan(i * CropAttempts * 4, CropAttempts * 4));
            var crop = x[i..(i + 1), .., top..(top + h), left..(left + w)]; // [1, C, h', w']
            crops[i] = h == Target.Height && w == Target.Width ? crop : Resize(crop, Target.Height, Target.Width);
        }

        return torch.cat(crops, 0); // [B, C, H, W]
    }

    private torch.Tensor Flip(torch.Tensor x)
    {
        using var u = torch.rand(new long[] { x.shape[0] }, generator: _generator);
        var flip = u.lt(0.5).to(x.device).view(-1, 1, 1, 1); // [B, 1, 1, 1]
        return torch.where(flip, x.flip(3), x);
    }
}
