using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Copies raw little-endian tensor storage between streams and CPU tensors, straight into or out of native memory,
/// in chunks so that tensors above 2 GB (the limit of one span) work too.
/// </summary>
internal static class TensorBytes
{
    private const long ChunkBytes = 1L << 30;

    /// <summary>Fills a contiguous CPU tensor from the stream's next bytes; throws on a short read.</summary>
    public static void ReadInto(Stream stream, Tensor tensor, string tensorName, string source)
    {
        ForEachChunk(tensor, span =>
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
        });
    }

    /// <summary>Writes the storage of a tensor (any device, any layout) as C-order little-endian bytes.</summary>
    public static void WriteFrom(Stream stream, Tensor tensor)
    {
        using var scope = torch.NewDisposeScope();
        var cpu = tensor.detach().cpu().contiguous();
        ForEachChunk(cpu, span => stream.Write(span));
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
