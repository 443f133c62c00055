namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Marks the <see cref="InvalidDataException"/> of a readable weights file that does not record its ViT architecture
/// (no <c>vit_config</c> metadata, or not a safetensors file at all), so that a caller can ask for a configuration
/// without hiding the real cause of a damaged file behind that request.
/// </summary>
internal static class MissingArchitecture
{
    private const string DataKey = "MLNet.PromptTuning.MissingArchitecture";

    /// <summary>The exception for a file that records no architecture.</summary>
    public static InvalidDataException Create(string message)
    {
        var error = new InvalidDataException(message);
        error.Data[DataKey] = true;
        return error;
    }

    /// <summary>Whether <paramref name="error"/> says only that the architecture is not recorded.</summary>
    public static bool Is(Exception error) => error.Data[DataKey] is true;
}
