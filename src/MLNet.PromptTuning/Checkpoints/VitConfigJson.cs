using System.Text.Json;
using System.Text.Json.Serialization;
using MLNet.PromptTuning.Backbones;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// The <c>vit_config</c> metadata entry of the safetensors files <see cref="BackboneCheckpoint.Save"/> writes: the
/// <see cref="VitConfig"/> as JSON with enum names as strings (numbers are accepted on read, as older files have them).
/// </summary>
internal static class VitConfigJson
{
    /// <summary>The metadata key.</summary>
    public const string MetadataKey = "vit_config";

    private static readonly JsonSerializerOptions Options = new()
    {
        Converters = { new JsonStringEnumConverter() },
    };

    public static string Serialize(VitConfig config) => JsonSerializer.Serialize(config, Options);

    /// <summary>Parses and validates a configuration; <paramref name="source"/> names the file in messages.</summary>
    /// <exception cref="InvalidDataException">The JSON is malformed or describes an invalid architecture.</exception>
    public static VitConfig Deserialize(string json, string source)
    {
        VitConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<VitConfig>(json, Options);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException(
                $"The '{MetadataKey}' metadata of '{source}' is not a valid ViT configuration: {e.Message}", e);
        }

        if (config is null)
        {
            throw new InvalidDataException($"The '{MetadataKey}' metadata of '{source}' is null.");
        }

        try
        {
            config.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(
                $"The '{MetadataKey}' metadata of '{source}' describes an invalid ViT: {e.Message}", e);
        }

        return config;
    }
}
