using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>The safetensors dtype names, their element sizes and the TorchSharp types they are read into.</summary>
internal static class SafeTensorsDTypes
{
    // Every dtype the format defines, so headers can be validated even for tensors that cannot be read.
    private static readonly Dictionary<string, int> Sizes = new(StringComparer.Ordinal)
    {
        ["BOOL"] = 1, ["U8"] = 1, ["I8"] = 1, ["F8_E4M3"] = 1, ["F8_E5M2"] = 1,
        ["I16"] = 2, ["U16"] = 2, ["F16"] = 2, ["BF16"] = 2,
        ["I32"] = 4, ["U32"] = 4, ["F32"] = 4,
        ["I64"] = 8, ["U64"] = 8, ["F64"] = 8,
    };

    private static readonly Dictionary<string, ScalarType> Readable = new(StringComparer.Ordinal)
    {
        ["BOOL"] = ScalarType.Bool, ["U8"] = ScalarType.Byte, ["I8"] = ScalarType.Int8,
        ["I16"] = ScalarType.Int16, ["F16"] = ScalarType.Float16, ["BF16"] = ScalarType.BFloat16,
        ["I32"] = ScalarType.Int32, ["F32"] = ScalarType.Float32, ["I64"] = ScalarType.Int64,
        ["F64"] = ScalarType.Float64,
    };

    /// <summary>The dtype names this library reads and writes, for error messages.</summary>
    public static string SupportedList => string.Join(", ", Readable.Keys);

    /// <summary>Element size in bytes of a dtype the format defines; false for a name the format does not
    /// know.</summary>
    public static bool TryGetSize(string dtype, out int size) => Sizes.TryGetValue(dtype, out size);

    /// <summary>The TorchSharp type a safetensors dtype is read into; false when it cannot be read here.</summary>
    public static bool TryGetScalarType(string dtype, out ScalarType type) => Readable.TryGetValue(dtype, out type);

    /// <summary>The safetensors name of a TorchSharp type; throws <see cref="NotSupportedException"/> for
    /// others.</summary>
    public static string FromScalarType(ScalarType type, string tensorName)
    {
        foreach (var (name, scalar) in Readable)
        {
            if (scalar == type)
            {
                return name;
            }
        }

        throw new NotSupportedException(
            $"Tensor '{tensorName}' has dtype {type}, which safetensors files written here do not support " +
            $"(supported: {SupportedList}).");
    }
}
