using System.Text.Encodings.Web;
using System.Text.Json;
using MLNet.PromptTuning.Runtime;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Writes <c>.safetensors</c> files that the Python <c>safetensors</c> package, timm and Hugging Face read: the JSON
/// header is padded with spaces to a multiple of 8 bytes, tensors are ordered by element size (largest first) then by
/// name so every tensor is aligned to its element size and the output is deterministic, and the file is written to a
/// temporary file in the same folder, flushed to disk and then moved into place, so the path holds the old or the new
/// complete file even if the process is killed mid-save. A temporary file left by a killed save is removed by the next
/// save of the same path.
/// </summary>
public static class SafeTensorsWriter
{
    /// <summary>Writes <paramref name="tensors"/> (any device; stored dtype kept) to <paramref name="path"/>.</summary>
    /// <param name="path">Destination file; replaced if it exists.</param>
    /// <param name="tensors">Tensors by key. Keys must be non-empty and must not be <c>__metadata__</c>.</param>
    /// <param name="metadata">Optional <c>__metadata__</c> string map, for example <c>{"format": "pt"}</c>.</param>
    /// <exception cref="NotSupportedException">A tensor's dtype has no safetensors equivalent here (names the
    /// tensor).</exception>
    public static void Write(
        string path,
        IReadOnlyDictionary<string, Tensor> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        AtomicFile.Write(path, stream => Write(stream, tensors, metadata));
    }

    /// <summary>Writes <paramref name="tensors"/> in the safetensors layout to <paramref name="stream"/> (left
    /// open).</summary>
    /// <param name="stream">A writable stream; written from its current position.</param>
    /// <param name="tensors">Tensors by key. Keys must be non-empty and must not be <c>__metadata__</c>.</param>
    /// <param name="metadata">Optional <c>__metadata__</c> string map.</param>
    /// <exception cref="NotSupportedException">A tensor's dtype has no safetensors equivalent here (names the
    /// tensor).</exception>
    public static void Write(
        Stream stream,
        IReadOnlyDictionary<string, Tensor> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        if (!BitConverter.IsLittleEndian)
        {
            throw new NotSupportedException("Writing safetensors files requires a little-endian machine.");
        }

        var entries = new List<(string Name, string DType, long Size, long[] Shape, long Bytes, Tensor Tensor)>();
        foreach (var (name, tensor) in tensors)
        {
            if (string.IsNullOrEmpty(name) || name == "__metadata__")
            {
                throw new ArgumentException($"Tensor key '{name}' is not allowed in a safetensors file.",
                    nameof(tensors));
            }

            ArgumentNullException.ThrowIfNull(tensor, $"{nameof(tensors)}[{name}]");
            var dtype = SafeTensorsDTypes.FromScalarType(tensor.dtype, name);
            entries.Add((name, dtype, tensor.ElementSize, tensor.shape, tensor.numel() * tensor.ElementSize, tensor));
        }

        entries.Sort((a, b) => a.Size != b.Size ? b.Size.CompareTo(a.Size) : string.CompareOrdinal(a.Name, b.Name));
        var header = BuildHeader(entries.Select(e => (e.Name, e.DType, e.Shape, e.Bytes)), metadata);

        Span<byte> length = stackalloc byte[8];
        BitConverter.TryWriteBytes(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);
        foreach (var entry in entries)
        {
            TensorBytes.WriteFrom(stream, entry.Tensor);
        }
    }

    private static byte[] BuildHeader(
        IEnumerable<(string Name, string DType, long[] Shape, long Bytes)> entries,
        IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping keeps keys such as 'a+b' readable; the output is still valid JSON.
        var options = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using (var json = new Utf8JsonWriter(buffer, options))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    json.WriteString(key, value);
                }

                json.WriteEndObject();
            }

            long offset = 0;
            foreach (var (name, dtype, shape, bytes) in entries)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (var dim in shape)
                {
                    json.WriteNumberValue(dim);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }

            json.WriteEndObject();
        }

        var padding = (int)((8 - buffer.Length % 8) % 8);
        for (var i = 0; i < padding; i++)
        {
            buffer.WriteByte((byte)' ');
        }

        return buffer.ToArray();
    }
}
