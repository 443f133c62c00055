namespace MLNet.PromptTuning.Data;

/// <summary>
/// How an image column becomes a [C, H, W] tensor: the channel count the model wants and, for flat pixel vectors
/// whose column type carries no dimensions, the shape to read them with. Saved with every model.
/// </summary>
/// <param name="Channels">Channels of the produced tensors: 3 (RGB) or 1 (grayscale, ITU-R 601 luma as PIL's
/// <c>convert("L")</c>). Inputs with the other count are converted.</param>
/// <param name="PixelVectorShape">Shape of flat pixel vectors (from <c>ExtractPixels</c>), channel-planar. Needed
/// only when the column type does not carry the dimensions; when both exist they must agree.</param>
internal sealed record ImageInputSpec(int Channels = 3, PixelShape? PixelVectorShape = null)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public void Validate()
    {
        if (Channels != 1 && Channels != 3)
        {
            throw new ArgumentOutOfRangeException(nameof(Channels), Channels, "Channels must be 1 or 3.");
        }

        PixelVectorShape?.Validate(nameof(PixelVectorShape));
    }
}

/// <summary>The layout of a channel-planar pixel vector: <c>Channels</c> planes of <c>Height</c> rows of <c>Width</c>
/// values.</summary>
/// <param name="Channels">Number of planes: 1 or 3 (RGB order).</param>
/// <param name="Height">Rows per plane, positive.</param>
/// <param name="Width">Values per row, positive.</param>
public readonly record struct PixelShape(int Channels, int Height, int Width)
{
    /// <summary>Number of values a vector of this shape holds.</summary>
    public long Size => (long)Channels * Height * Width;

    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> when invalid, with the library's message shape
    /// (<c>Options.PixelVectorShape is 2x8x8; expected 1 or 3 channels and a positive height and width.</c>).
    /// </summary>
    /// <param name="optionName">The option holding this shape.</param>
    /// <param name="owner">The options class, as the user knows it.</param>
    public void Validate(string optionName, string owner = "Options") =>
        Training.OptionChecks.Require((Channels == 1 || Channels == 3) && Height > 0 && Width > 0, owner, optionName,
            this, "1 or 3 channels and a positive height and width");

    /// <inheritdoc />
    public override string ToString() => $"{Channels}x{Height}x{Width}";
}
