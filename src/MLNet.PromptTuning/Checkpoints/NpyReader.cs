using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Reads NumPy <c>.npy</c> arrays (format versions 1.0, 2.0 and 3.0) into CPU tensors of the stored type.
/// Supported element types: <c>&lt;f4 &lt;f8 &lt;f2 &lt;i8 &lt;i4 &lt;i2 |i1 |u1 |b1</c>. Fortran-ordered arrays are
/// returned in C order with the same shape. Big-endian arrays are refused (convert with <c>a.astype('&lt;f4')</c>).
/// </summary>
public static class NpyReader
{
    private const int MaxHeaderBytes = 1 << 20;
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads a <c>.npy</c> file.</summary>
    /// <exception cref="InvalidDataException">The file is truncated or not a .npy array.</exception>
    /// <exception cref="NotSupportedException">The element type or byte order is not supported.</exception>
    public static Tensor Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(stream, path, stream.Length);
    }

    /// <summary>Reads one array from the current position of a stream (need not be seekable, e.g. a deflated zip
    /// entry).</summary>
    /// <param name="stream">The stream, positioned at the <c>\x93NUMPY</c> magic.</param>
    /// <param name="source">A name for messages.</param>
    public static Tensor Read(Stream stream, string source = "stream")
    {
        ArgumentNullException.ThrowIfNull(stream);
        return Read(stream, source, stream.CanSeek ? stream.Length - stream.Position : null);
    }

    /// <summary>Reads one array; <paramref name="available"/> bounds the bytes the array may occupy, when
    /// known.</summary>
    internal static Tensor Read(Stream stream, string source, long? available)
    {
        var header = ReadHeader(stream, source, out var headerBytes);
        var type = ToScalarType(header.Descr, source);
        long dataBytes;
        try
        {
            dataBytes = checked(header.Shape.Aggregate(1L, (a, b) => checked(a * b)) * ElementSize(type));
        }
        catch (OverflowException)
        {
            throw new InvalidDataException(
                $"'{source}' is not a valid .npy array: its shape ({string.Join(", ", header.Shape)}) is absurd.");
        }

        // Refuse before allocating: a corrupt header must not make us allocate more than the file holds.
        if (available is { } limit && dataBytes > limit - headerBytes)
        {
            throw new InvalidDataException(
                $"'{source}' is truncated: shape ({string.Join(", ", header.Shape)}) of '{header.Descr}' needs " +
                $"{dataBytes} bytes but only {Math.Max(0, limit - headerBytes)} follow the header.");
        }

        // A Fortran-ordered array is the C-ordered array of the reversed shape, transposed.
        var storedShape = header.FortranOrder ? header.Shape.Reverse().ToArray() : header.Shape;
        using var scope = torch.NewDisposeScope();
        var tensor = torch.empty(storedShape, type);
        TensorBytes.ReadInto(stream, tensor, "array", source);
        if (header.FortranOrder && storedShape.Length > 1)
        {
            var reversed = Enumerable.Range(0, storedShape.Length).Reverse().Select(i => (long)i).ToArray();
            tensor = tensor.permute(reversed).contiguous();
        }

        return tensor.MoveToOuterDisposeScope();
    }

    private static NpyHeader ReadHeader(Stream stream, string source, out long headerBytes)
    {
        Span<byte> preamble = stackalloc byte[8];
        ReadOrThrow(stream, preamble, source);
        if (!preamble[..6].SequenceEqual(Magic))
        {
            throw new InvalidDataException($"'{source}' is not a .npy array: the \\x93NUMPY magic is missing.");
        }

        var major = preamble[6];
        int length;
        if (major == 1)
        {
            Span<byte> two = stackalloc byte[2];
            ReadOrThrow(stream, two, source);
            length = BitConverter.ToUInt16(two);
        }
        else if (major is 2 or 3)
        {
            Span<byte> four = stackalloc byte[4];
            ReadOrThrow(stream, four, source);
            var declared = BitConverter.ToUInt32(four);
            if (declared > MaxHeaderBytes)
            {
                throw new InvalidDataException(
                    $"'{source}' is not a valid .npy array: the header length {declared} is above {MaxHeaderBytes}.");
            }

            length = (int)declared;
        }
        else
        {
            throw new NotSupportedException($"'{source}' uses .npy format version {major}.{preamble[7]}; " +
                                            "versions 1.0, 2.0 and 3.0 are supported.");
        }

        var bytes = new byte[length];
        ReadOrThrow(stream, bytes, source);
        headerBytes = (major == 1 ? 10 : 12) + length;
        var text = major == 3 ? Encoding.UTF8.GetString(bytes) : Encoding.Latin1.GetString(bytes);
        return NpyHeader.Parse(text.TrimEnd('\n', ' ', '\0'), source);
    }

    private static long ElementSize(ScalarType type) => type switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.Int16 => 2,
        _ => 1,
    };

    private static ScalarType ToScalarType(string descr, string source)
    {
        if (descr.Length >= 2 && descr[0] == '>' && descr[^1] != '1')
        {
            throw new NotSupportedException(
                $"'{source}' stores big-endian data (descr '{descr}'), which is not supported; " +
                "convert it with numpy: a.astype(a.dtype.newbyteorder('<')).");
        }

        // '|' means byte order is irrelevant (1-byte types); '=' is native, which is little-endian here.
        var normalized = descr.Length >= 2 && descr[0] is '|' or '=' or '>' ? "<" + descr[1..] : descr;
        return normalized switch
        {
            "<f4" => ScalarType.Float32,
            "<f8" => ScalarType.Float64,
            "<f2" => ScalarType.Float16,
            "<i8" => ScalarType.Int64,
            "<i4" => ScalarType.Int32,
            "<i2" => ScalarType.Int16,
            "<i1" => ScalarType.Int8,
            "<u1" => ScalarType.Byte,
            "<b1" => ScalarType.Bool,
            _ => throw new NotSupportedException(
                $"'{source}' has dtype '{descr}', which is not supported " +
                "(supported: <f4, <f8, <f2, <i8, <i4, <i2, |i1, |u1, |b1)."),
        };
    }

    private static void ReadOrThrow(Stream stream, Span<byte> buffer, string source)
    {
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"'{source}' is truncated: the .npy header ends early.");
        }
    }
}
