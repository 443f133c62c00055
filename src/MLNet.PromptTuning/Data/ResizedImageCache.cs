namespace MLNet.PromptTuning.Data;

/// <summary>
/// Keeps the first <see cref="Capacity"/> images of a training set, already at their stored size, as 8-bit pixels
/// in managed memory, so later passes need not decode them again. Images arrive as they are first read; memory grows
/// with them up to <c>Capacity × RowBytes</c> and never beyond. Storage is split in chunks of at most 64 MiB so the
/// cache may exceed the 2 GB limit of one array.
/// </summary>
/// <remarks>
/// Each index is written at most once, by one thread, before <see cref="Contains"/> turns true for it; a pass only
/// reads indices that an earlier pass completed, or writes ones that no other thread touches in the same pass.
/// </remarks>
internal sealed class ResizedImageCache
{
    private const long ChunkBytes = 64L << 20;

    private readonly byte[]?[] _chunks;
    private readonly int[] _stored; // 1 once an index is filled; read and written with Volatile
    private readonly int _rowsPerChunk;
    private long _count;

    /// <summary>Creates an empty cache for <paramref name="capacity"/> images of <paramref name="rowBytes"/>
    /// bytes.</summary>
    public ResizedImageCache(int capacity, int rowBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rowBytes);
        Capacity = capacity;
        RowBytes = rowBytes;
        _rowsPerChunk = (int)Math.Max(1, ChunkBytes / rowBytes);
        _chunks = new byte[]?[(capacity + _rowsPerChunk - 1) / _rowsPerChunk];
        _stored = new int[capacity];
    }

    /// <summary>How many images (indices 0..Capacity-1) the cache may hold.</summary>
    public int Capacity { get; }

    /// <summary>Bytes of one image.</summary>
    public int RowBytes { get; }

    /// <summary>Images held now.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>How many images fit in <paramref name="megabytes"/> MiB, at most <paramref name="rows"/>.</summary>
    public static int RowsWithin(long megabytes, int rowBytes, int rows) =>
        (int)Math.Min(rows, (megabytes << 20) / rowBytes);

    /// <summary>Whether image <paramref name="index"/> is held.</summary>
    public bool Contains(int index) => index < Capacity && Volatile.Read(ref _stored[index]) == 1;

    /// <summary>Copies image <paramref name="index"/> into <paramref name="destination"/>; false when it is not
    /// held.</summary>
    public bool TryCopyTo(int index, Span<byte> destination)
    {
        if (!Contains(index))
        {
            return false;
        }

        Slot(index).CopyTo(destination);
        return true;
    }

    /// <summary>Stores image <paramref name="index"/> when it is within the capacity and not yet held.</summary>
    public void Store(int index, ReadOnlySpan<byte> pixels)
    {
        if (index >= Capacity || Contains(index))
        {
            return;
        }

        pixels.CopyTo(Slot(index));
        Volatile.Write(ref _stored[index], 1);
        Interlocked.Increment(ref _count);
    }

    private Span<byte> Slot(int index)
    {
        int chunk = index / _rowsPerChunk;
        byte[]? storage = Volatile.Read(ref _chunks[chunk]);
        if (storage is null)
        {
            int rows = Math.Min(_rowsPerChunk, Capacity - chunk * _rowsPerChunk);
            Interlocked.CompareExchange(ref _chunks[chunk], new byte[(long)rows * RowBytes], null);
            storage = _chunks[chunk]!;
        }

        return storage.AsSpan((index % _rowsPerChunk) * RowBytes, RowBytes);
    }
}
