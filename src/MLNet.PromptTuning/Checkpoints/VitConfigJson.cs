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

        RequireSane(config, source);
        return config;
    }

    /// <summary>
    /// Checks that the configuration describes exactly the tensors the file declares (names and shapes of every
    /// backbone parameter), so that a configuration edited or damaged in the file (a depth of 1000, a width of a
    /// million) is refused before a model of that size is built. The tensors' shapes are themselves bounded by the
    /// file's length, so a configuration that passes cannot make the caller allocate more than the file holds.
    /// </summary>
    /// <exception cref="InvalidDataException">
    /// A parameter is missing or has another shape (names up to three).
    /// </exception>
    public static void CheckAgainstTensors(VitConfig config, IReadOnlyList<SafeTensorInfo> tensors, string source)
    {
        // Each block has a dozen tensors: a depth beyond the tensor count is refused before shapes are even listed.
        if (config.Depth > tensors.Count)
        {
            throw new InvalidDataException(
                $"The '{MetadataKey}' metadata of '{source}' does not describe the file's tensors: Depth " +
                $"{config.Depth}, but the file has only {tensors.Count} tensors.");
        }

        var declared = tensors.ToDictionary(t => t.Name, t => t.Shape, StringComparer.Ordinal);
        var problems = new List<string>();
        var expected = VitParameterShapes.For(config);
        foreach (var (name, shape) in expected)
        {
            if (!declared.TryGetValue(name, out var actual))
            {
                problems.Add($"'{name}' is missing");
            }
            else if (!actual.SequenceEqual(shape))
            {
                problems.Add($"'{name}' is [{string.Join(", ", actual)}], the configuration needs " +
                             $"[{string.Join(", ", shape)}]");
            }

            if (problems.Count == 3)
            {
                break;
            }
        }

        var strays = declared.Keys
            .Where(k => !expected.ContainsKey(k) && !k.StartsWith("head.", StringComparison.Ordinal))
            .Take(3 - Math.Min(problems.Count, 3)).Select(k => $"'{k}' is not a parameter of that configuration");
        problems.AddRange(strays);
        if (problems.Count > 0)
        {
            throw new InvalidDataException(
                $"The '{MetadataKey}' metadata of '{source}' does not describe the file's tensors (EmbedDim " +
                $"{config.EmbedDim}, Depth {config.Depth}, MlpRatio {config.MlpRatio}, {config.ImageHeight}x" +
                $"{config.ImageWidth} px, PatchSize {config.PatchSize}): {string.Join("; ", problems)}.");
        }
    }

    // Bounds that keep every derived size (MLP width, patch count) meaningful before it is compared with the tensors.
    private static void RequireSane(VitConfig config, string source)
    {
        string? problem = null;
        if (!double.IsFinite(config.MlpRatio) || config.EmbedDim * config.MlpRatio >= int.MaxValue)
        {
            problem = $"MlpRatio {config.MlpRatio} with EmbedDim {config.EmbedDim} gives no usable MLP width";
        }
        else if (!double.IsFinite(config.LayerNormEps))
        {
            problem = $"LayerNormEps is {config.LayerNormEps}";
        }
        else if (!Enum.IsDefined(config.GlobalPooling))
        {
            problem = $"GlobalPooling is {(int)config.GlobalPooling}, which is not a pooling";
        }
        else if (config.Preprocessing.Height != config.ImageHeight || config.Preprocessing.Width != config.ImageWidth)
        {
            problem = $"the preprocessing size {config.Preprocessing.Height}x{config.Preprocessing.Width} differs " +
                      $"from the image size {config.ImageHeight}x{config.ImageWidth}";
        }

        if (problem is not null)
        {
            throw new InvalidDataException(
                $"The '{MetadataKey}' metadata of '{source}' describes an invalid ViT: {problem}.");
        }
    }
}
