using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Modeling;
using TorchSharp;

namespace MLNet.PromptTuning.Persistence;

/// <summary>
/// The tensors a saved model or adapter holds, and the strict way back: every expected tensor present, nothing
/// unexpected, every shape equal, or an <see cref="InvalidDataException"/> that lists the differences.
/// </summary>
internal static class ModelTensors
{
    private const string BackbonePrefix = "backbone.";

    /// <summary>The model's own state: method and head, plus the backbone's tensors when <paramref
    /// name="includeBackbone"/> is true and the model owns them.</summary>
    public static Dictionary<string, torch.Tensor> Trainable(PromptedVisionTransformer model, bool includeBackbone) =>
        model.state_dict()
            .Where(kv => includeBackbone || !kv.Key.StartsWith(BackbonePrefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value);

    /// <summary>Reads a safetensors stream (a zip entry, which may not seek) into <paramref name="module"/>.</summary>
    public static void Load(torch.nn.Module module, BinaryReader reader, string what)
    {
        using var buffer = new MemoryStream();
        reader.BaseStream.CopyTo(buffer);
        buffer.Position = 0;
        using var file = SafeTensorsReader.Open(buffer, what);
        Load(module, file.ReadAll(), what);
    }

    /// <summary>
    /// Copies <paramref name="tensors"/> into <paramref name="module"/> after checking names and shapes, then disposes
    /// them. A model's own backbone tensors (<c>backbone.*</c>) may be absent, since they are stored and loaded
    /// separately.
    /// </summary>
    public static void Load(torch.nn.Module module, Dictionary<string, torch.Tensor> tensors, string what)
    {
        try
        {
            var expected = module.state_dict();
            var missing = expected.Keys
                .Where(k => !tensors.ContainsKey(k) && !k.StartsWith(BackbonePrefix, StringComparison.Ordinal))
                .ToList();
            var unexpected = tensors.Keys.Where(k => !expected.ContainsKey(k)).ToList();
            if (missing.Count > 0 || unexpected.Count > 0)
            {
                throw new InvalidDataException(
                    $"The {what} tensors do not fit the model: missing [{string.Join(", ", missing)}], " +
                    $"unexpected [{string.Join(", ", unexpected)}].");
            }

            using var noGrad = torch.no_grad();
            foreach (var (name, tensor) in tensors)
            {
                var target = expected[name];
                if (!target.shape.SequenceEqual(tensor.shape))
                {
                    throw new InvalidDataException(
                        $"The {what} tensor '{name}' has shape [{string.Join(", ", tensor.shape)}]; the model " +
                        $"expects " +
                        $"[{string.Join(", ", target.shape)}].");
                }

                target.copy_(tensor);
            }
        }
        finally
        {
            foreach (var tensor in tensors.Values)
            {
                tensor.Dispose();
            }
        }
    }
}
