using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Copies raw little-endian tensor storage between streams and CPU tensors, straight into or out of native memory,
/// in chunks so that tensors above 2 GB (the limit of one span) work too. Every tensor a reader fills from a file is
/// allocated here, after the caller has checked that the bytes it needs are in the file
/// (<see cref="ReadNew"/>), or while they arrive when only a declared size is known (<see cref="ReadNewGrowing"/>).
/// </summary>
internal static class TensorBytes
{
    /// <summary>Below this size a tensor whose bytes are only declared is allocated at once (a bounded cost).</summary>
    public const long GrowingThresholdBytes = 16L << 20;

    private const long ChunkBytes = 1L << 30;

    [ThreadStatic]
    private static long _largestAllocation;

    /// <summary>
    /// The largest tensor, in bytes, that the readers allocated on this thread since the last
    /// <see cref="ResetLargestAllocation"/>: what the fuzz tests compare with the file's size.
    /// </summary>
    public static long LargestAllocation => _largestAllocation;

    /// <summary>Starts a new <see cref="LargestAllocation"/> measurement.</summary>
    public static void ResetLargestAllocation() => _largestAllocation = 0;

    /// <summary>
    /// Allocates a CPU tensor and fills it from the stream's next bytes. The caller has checked that the stream holds
    /// them (a file or stored entry whose length was compared with the size); a short read still throws.
    /// </summary>
    public static Tensor ReadNew(Stream stream, long[] shape, ScalarType type, string tensorName, string source)
    {
        var tensor = Allocate(shape, type);
        try
        {
            ReadInto(stream, tensor, tensorName, source);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads <paramref name="byteCount"/> bytes whose presence is only declared (a deflated entry, a stream of unknown
    /// length) into a new tensor, taking memory as the bytes arrive: above <see cref="GrowingThresholdBytes"/> they are
    /// gathered in pieces and copied into the tensor at the end, so a size the data does not deliver costs at most
    /// twice the bytes that did arrive plus one piece.
    /// </summary>
    public static Tensor ReadNewGrowing(
        Stream stream, long[] shape, ScalarType type, long byteCount, string tensorName, string source)
    {
        if (byteCount <= GrowingThresholdBytes)
        {
            return ReadNew(stream, shape, type, tensorName, source);
        }

        var pieces = new List<byte[]>();
        for (long gathered = 0; gathered < byteCount;)
        {
            var piece = new byte[Math.Min(GrowingThresholdBytes, byteCount - gathered)];
            ReadExactly(stream, piece, tensorName, source);
            pieces.Add(piece);
            gathered += piece.Length;
        }

        var tensor = Allocate(shape, type);
        try
        {
            var index = 0;
            ForEachChunk(tensor, span =>
            {
                // Chunks are 1 GB and pieces 16 MB, so each chunk is a whole number of pieces (or the tail).
                for (var filled = 0; filled < span.Length; index++)
                {
                    pieces[index].CopyTo(span[filled..]);
                    filled += pieces[index].Length;
                }
            });
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <summary>Fills a contiguous CPU tensor from the stream's next bytes; throws on a short read.</summary>
    public static void ReadInto(Stream stream, Tensor tensor, string tensorName, string source) =>
        ForEachChunk(tensor, span => ReadExactly(stream, span, tensorName, source));

    /// <summary>Writes the storage of a tensor (any device, any layout) as C-order little-endian bytes.</summary>
    public static void WriteFrom(Stream stream, Tensor tensor)
    {
        using var scope = torch.NewDisposeScope();
        var cpu = tensor.detach().cpu().contiguous();
        ForEachChunk(cpu, span => stream.Write(span));
    }

    private static Tensor Allocate(long[] shape, ScalarType type)
    {
        var tensor = torch.empty(shape, type);
        _largestAllocation = Math.Max(_largestAllocation, tensor.numel() * tensor.ElementSize);
        return tensor;
    }

    private static void ReadExactly(Stream stream, Span<byte> span, string tensorName, string source)
    {
        try
        {
            stream.ReadExactly(span);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException(
                $"'{source}' is truncated: the data of tensor '{tensorName}' ends past the end of the file.");
        }
    }

    private delegate void SpanAction(Span<byte> span);

    private static void ForEachChunk(Tensor tensor, SpanAction action)
    {
        var total = tensor.numel() * tensor.ElementSize;
        if (total == 0)
        {
            return;
        }

        if (total <= ChunkBytes)
        {
            action(tensor.bytes);
            return;
        }

        using var scope = torch.NewDisposeScope();
        var flat = tensor.view(-1);
        var perChunk = ChunkBytes / tensor.ElementSize;
        for (long start = 0; start < flat.shape[0]; start += perChunk)
        {
            using var chunk = flat.narrow(0, start, Math.Min(perChunk, flat.shape[0] - start));
            action(chunk.bytes);
        }
    }
}
