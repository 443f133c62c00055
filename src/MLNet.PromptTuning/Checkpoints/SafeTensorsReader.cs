using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Reads <c>.safetensors</c> files: an 8-byte little-endian header length, a JSON header describing every tensor,
/// then the raw data. The header is validated completely on <see cref="Open(string)"/> before any tensor is read, with
/// the rules of the format's reference implementation: a bounded header length inside the file, UTF-8 JSON starting
/// with <c>{</c>, unique keys, byte lengths matching dtype and shape, and data offsets that tile the data buffer
/// exactly (no hole, no overlap, nothing after the last tensor), so a wrong header length or a shifted offset is
/// refused instead of being read a few bytes off. Each tensor is then read on demand by seeking to it, straight into
/// native memory, so the file is never held in memory twice.
/// </summary>
/// <remarks>
/// Readable dtypes: BOOL, U8, I8, I16, I32, I64, F16, BF16, F32, F64. Other dtypes of the format (U16, U32, U64,
/// F8_E4M3, F8_E5M2) are accepted in the header but reading such a tensor throws <see cref="NotSupportedException"/>.
/// Tensors are returned on the CPU in the stored dtype; <see cref="BackboneCheckpoint"/> converts floating tensors to
/// float32. Failures are <see cref="InvalidDataException"/> (a damaged or malformed file),
/// <see cref="NotSupportedException"/> (a valid dtype this library does not read) or an <see cref="IOException"/>;
/// see <see cref="BackboneCheckpoint"/> for the whole list.
/// </remarks>
public sealed class SafeTensorsReader : IDisposable
{
    /// <summary>The largest header accepted, in bytes (100 MB, as in the reference implementation).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly long _bufferStart;
    private readonly Dictionary<string, SafeTensorInfo> _byName;
    private bool _disposed;

    private SafeTensorsReader(Stream stream, bool leaveOpen, string source)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
        Source = source;
        var (headerLength, tensors, metadata) = CheckpointErrors.Guard(source, () => ParseHeader(stream, source));
        _bufferStart = 8 + headerLength;
        Tensors = tensors;
        Metadata = metadata;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>The file path (or the name given for a stream), used in messages.</summary>
    public string Source { get; }

    /// <summary>The tensors in the order of their data in the file.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }

    /// <summary>The optional <c>__metadata__</c> string map (timm writes <c>{"format": "pt"}</c>); empty when
    /// absent.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Opens and validates a safetensors file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is truncated or its header is malformed.</exception>
    /// <exception cref="NotSupportedException">A tensor has a dtype name the format does not define.</exception>
    public static SafeTensorsReader Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            return new SafeTensorsReader(stream, leaveOpen: false, path);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Reads a safetensors file from a seekable stream.</summary>
    /// <param name="stream">A readable, seekable stream positioned anywhere; the file starts at offset 0.</param>
    /// <param name="source">A name for messages.</param>
    /// <param name="leaveOpen">Whether disposing the reader leaves <paramref name="stream"/> open.</param>
    public static SafeTensorsReader Open(Stream stream, string source = "stream", bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead || !stream.CanSeek)
        {
            throw new ArgumentException("The stream must be readable and seekable.", nameof(stream));
        }

        return new SafeTensorsReader(stream, leaveOpen, source);
    }

    /// <summary>Reads every tensor of a file into a new dictionary (file order); the caller owns the tensors.</summary>
    public static Dictionary<string, Tensor> ReadFile(string path)
    {
        using var reader = Open(path);
        return reader.ReadAll();
    }

    /// <summary>Whether the file has a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The header entry of a tensor; throws <see cref="KeyNotFoundException"/> naming it when
    /// absent.</summary>
    public SafeTensorInfo GetInfo(string name) =>
        _byName.TryGetValue(name, out var info)
            ? info
            : throw new KeyNotFoundException($"'{Source}' has no tensor named '{name}'.");

    /// <summary>Reads one tensor onto the CPU in its stored dtype.</summary>
    /// <exception cref="NotSupportedException">The tensor's dtype cannot be read here (names the tensor and
    /// dtype).</exception>
    public Tensor ReadTensor(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var info = GetInfo(name);
        if (!SafeTensorsDTypes.TryGetScalarType(info.DType, out var type))
        {
            throw new NotSupportedException(
                $"Tensor '{info.Name}' in '{Source}' has dtype {info.DType}, which is not supported " +
                $"(supported: {SafeTensorsDTypes.SupportedList}).");
        }

        // The header check proved that the tensor's bytes lie inside the file, so allocating them is bounded by it.
        return CheckpointErrors.Guard(Source, () =>
        {
            _stream.Seek(_bufferStart + info.DataBegin, SeekOrigin.Begin);
            return TensorBytes.ReadNew(_stream, info.Shape.ToArray(), type, info.Name, Source);
        }, info.Name);
    }

    /// <summary>Reads every tensor into a new dictionary (file order); the caller owns the tensors.</summary>
    public Dictionary<string, Tensor> ReadAll()
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var info in Tensors)
            {
                result.Add(info.Name, ReadTensor(info.Name));
            }

            return result;
        }
        catch
        {
            foreach (var tensor in result.Values)
            {
                tensor.Dispose();
            }

            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    private static (long HeaderLength, IReadOnlyList<SafeTensorInfo> Tensors, IReadOnlyDictionary<string,
        string> Metadata)
        ParseHeader(Stream stream, string source)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new NotSupportedException("Reading safetensors files requires a little-endian machine.");
        }

        var fileLength = stream.Length;
        if (fileLength < 8)
        {
            throw Invalid(source,
                $"the file is {fileLength} bytes, shorter than the 8-byte header length (truncated?)");
        }

        stream.Seek(0, SeekOrigin.Begin);
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        var declared = BitConverter.ToUInt64(prefix);
        if (declared > MaxHeaderBytes)
        {
            throw Invalid(source, $"the header length is {declared} bytes, above the {MaxHeaderBytes}-byte limit " +
                                  "(not a safetensors file, or corrupted)");
        }

        var headerLength = (long)declared;
        if (headerLength > fileLength - 8)
        {
            throw Invalid(source, $"the header length ({headerLength} bytes) runs past the end of the file " +
                                  $"({fileLength} bytes; truncated?)");
        }

        if (headerLength < 2)
        {
            throw Invalid(source, $"the header length is {headerLength} bytes; a JSON object needs at least 2");
        }

        var header = new byte[headerLength];
        stream.ReadExactly(header);
        if (header[0] != (byte)'{')
        {
            throw Invalid(source, "the header does not start with '{'");
        }

        if (!System.Text.Unicode.Utf8.IsValid(header))
        {
            throw Invalid(source, "the header is not valid UTF-8");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw Invalid(source, $"the header is not valid JSON ({e.Message})");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(source, "the header is not a JSON object");
            }

            var bufferLength = fileLength - 8 - headerLength;
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var tensors = new List<SafeTensorInfo>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                {
                    throw Invalid(source, $"the key '{property.Name}' appears twice in the header");
                }

                if (property.Name == "__metadata__")
                {
                    ReadMetadata(property.Value, metadata, source);
                }
                else
                {
                    tensors.Add(ReadEntry(property.Name, property.Value, bufferLength, source));
                }
            }

            tensors.Sort((a, b) => a.DataBegin != b.DataBegin
                ? a.DataBegin.CompareTo(b.DataBegin)
                : a.DataEnd.CompareTo(b.DataEnd));
            CheckTiling(tensors, bufferLength, headerLength, source);
            return (headerLength, tensors, metadata);
        }
    }

    /// <summary>
    /// The reference implementation's rule: sorted by offset, each tensor starts where the previous ended, the first at
    /// 0, and the last ends at the end of the file. A hole, an overlap or spare bytes mean a damaged header.
    /// </summary>
    private static void CheckTiling(List<SafeTensorInfo> tensors, long bufferLength, long headerLength, string source)
    {
        long expected = 0;
        for (var i = 0; i < tensors.Count; i++)
        {
            var tensor = tensors[i];
            if (tensor.DataBegin < expected)
            {
                throw Invalid(source, $"the data of tensors '{tensors[i - 1].Name}' " +
                                      $"[{tensors[i - 1].DataBegin}, {tensors[i - 1].DataEnd}) and " +
                                      $"'{tensor.Name}' [{tensor.DataBegin}, {tensor.DataEnd}) overlap");
            }

            if (tensor.DataBegin > expected)
            {
                throw Invalid(source, $"the data buffer has a hole of {tensor.DataBegin - expected} bytes before " +
                                      $"tensor '{tensor.Name}' [{tensor.DataBegin}, {tensor.DataEnd})");
            }

            expected = tensor.DataEnd;
        }

        if (expected != bufferLength)
        {
            throw Invalid(source, $"the tensors' data ends at byte {expected} of a {bufferLength}-byte data buffer " +
                                  $"(the header length {headerLength} is wrong, or the file has extra bytes)");
        }
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string source)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(source, "__metadata__ is not a JSON object of strings");
        }

        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw Invalid(source, $"__metadata__ entry '{item.Name}' is not a string");
            }

            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    private static SafeTensorInfo ReadEntry(string name, JsonElement entry, long bufferLength, string source)
    {
        if (entry.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(source, $"the header entry of tensor '{name}' is not a JSON object");
        }

        if (!entry.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw Invalid(source, $"tensor '{name}' has no string 'dtype'");
        }

        var dtype = dtypeElement.GetString()!;
        if (!SafeTensorsDTypes.TryGetSize(dtype, out var elementSize))
        {
            throw new NotSupportedException(
                $"Tensor '{name}' in '{source}' has dtype {dtype}, which is not supported " +
                $"(supported: {SafeTensorsDTypes.SupportedList}).");
        }

        if (!entry.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
        {
            throw Invalid(source, $"tensor '{name}' has no 'shape' array");
        }

        var shape = new List<long>();
        long count = 1;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out var size) || size < 0)
            {
                throw Invalid(source, $"tensor '{name}' has an invalid shape {shapeElement.GetRawText()} " +
                                      "(dimensions must be non-negative integers)");
            }

            shape.Add(size);
            try
            {
                count = checked(count * size);
            }
            catch (OverflowException)
            {
                throw Invalid(source, $"tensor '{name}' has an absurd shape {shapeElement.GetRawText()} " +
                                      "(its element count overflows)");
            }
        }

        if (shape.Count > 64)
        {
            throw Invalid(source, $"tensor '{name}' has {shape.Count} dimensions (at most 64 are accepted)");
        }

        // An empty tensor still gets strides: their product must not overflow either.
        if (count == 0 && !FitsInStrides(shape, elementSize))
        {
            throw Invalid(source, $"tensor '{name}' has an absurd shape {shapeElement.GetRawText()} " +
                                  "(its strides overflow)");
        }

        if (!entry.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array ||
            offsets.GetArrayLength() != 2)
        {
            throw Invalid(source, $"tensor '{name}' has no 'data_offsets' pair");
        }

        var begin = ReadOffset(offsets[0], name, source);
        var end = ReadOffset(offsets[1], name, source);
        if (end < begin)
        {
            throw Invalid(source, $"tensor '{name}' has data_offsets [{begin}, {end}] with end before begin");
        }

        if (end > bufferLength)
        {
            throw Invalid(source, $"tensor '{name}' has data_offsets [{begin}, {end}] beyond the data buffer " +
                                  $"({bufferLength} bytes; truncated?)");
        }

        long expectedBytes;
        try
        {
            expectedBytes = checked(count * elementSize);
        }
        catch (OverflowException)
        {
            throw Invalid(source, $"tensor '{name}' has an absurd shape {shapeElement.GetRawText()} " +
                                  "(its byte length overflows)");
        }

        if (end - begin != expectedBytes)
        {
            throw Invalid(source, $"tensor '{name}' ({dtype} [{string.Join(", ", shape)}]) needs {expectedBytes} " +
                                  $"bytes but its data_offsets [{begin}, {end}] span {end - begin}");
        }

        return new SafeTensorInfo(name, dtype, shape.ToArray(), begin, end);
    }

    private static bool FitsInStrides(List<long> shape, int elementSize)
    {
        long product = elementSize;
        foreach (var dim in shape)
        {
            if (dim > 0 && product > long.MaxValue / dim)
            {
                return false;
            }

            product *= Math.Max(dim, 1);
        }

        return true;
    }

    private static long ReadOffset(JsonElement element, string name, string source)
    {
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out var value) || value < 0)
        {
            throw Invalid(source, $"tensor '{name}' has a data offset that is not a non-negative integer " +
                                  $"({element.GetRawText()})");
        }

        return value;
    }

    private static InvalidDataException Invalid(string source, string reason) =>
        new($"'{source}' is not a valid safetensors file: {reason}.");
}
