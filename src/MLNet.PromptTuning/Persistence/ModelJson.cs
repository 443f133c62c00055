using System.Text.Json;
using System.Text.Json.Serialization;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Persistence;

/// <summary>JSON for the parts of a model that are not tensors: backbone architecture and method options.</summary>
internal static class ModelJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The backbone architecture as JSON, in the same form safetensors metadata uses.</summary>
    public static string SerializeConfig(VitConfig config) => VitConfigJson.Serialize(config);

    public static VitConfig DeserializeConfig(string json) => VitConfigJson.Deserialize(json, "the model file");

    public static string SerializeMethodOptions(PromptMethodOptions options) =>
        JsonSerializer.Serialize(options, options.GetType(), Options);

    /// <summary>
    /// Rebuilds method options of the type registered for <paramref name="methodId"/>, reading the declarations of
    /// <paramref name="methodAssembly"/> (the assembly the model names as the method's home) when the id is unknown.
    /// </summary>
    public static PromptMethodOptions DeserializeMethodOptions(string methodId, string json, string? methodAssembly)
    {
        Type type = PromptMethodRegistry.Default.GetOptionsType(methodId, methodAssembly);
        return JsonSerializer.Deserialize(json, type, Options) as PromptMethodOptions
            ?? throw new InvalidDataException($"The stored options of method '{methodId}' are empty.");
    }
}
