using System.IO.Compression;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Reads a zip entry while counting its bytes and computing its CRC-32, so that the reader can prove, once it has
/// consumed the entry, that it got exactly the bytes the archive recorded (<see cref="VerifyComplete"/>). A corrupted
/// entry, or one whose recorded size is a lie, is refused instead of being loaded.
/// </summary>
internal sealed class ZipEntryReadStream : Stream
{
    private readonly Stream _inner;
    private readonly ZipArchiveEntry _entry;
    private readonly string _source;
    private Crc32 _crc = new();
    private long _count;

    private ZipEntryReadStream(Stream inner, ZipArchiveEntry entry, string source)
    {
        _inner = inner;
        _entry = entry;
        _source = source;
    }

    /// <summary>The bytes read so far.</summary>
    public long BytesRead => _count;

    /// <inheritdoc />
    public override bool CanRead => true;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => false;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc />
    public override long Position
    {
        get => _count;
        set => throw new NotSupportedException();
    }

    /// <summary>
    /// Opens <paramref name="entry"/> after checking that the sizes it records are possible: a stored entry must be as
    /// long as its data in the archive, and a deflated one cannot expand more than deflate allows (1032:1).
    /// </summary>
    /// <param name="entry">The entry.</param>
    /// <param name="archiveLength">The archive's length in bytes, which bounds every entry's compressed size.</param>
    /// <param name="source">The entry as named in messages (<c>archive:entry</c>).</param>
    /// <exception cref="InvalidDataException">The recorded sizes are impossible.</exception>
    public static ZipEntryReadStream Open(ZipArchiveEntry entry, long archiveLength, string source)
    {
        if (entry.CompressedLength < 0 || entry.Length < 0 || entry.CompressedLength > archiveLength)
        {
            throw new InvalidDataException(
                $"'{source}' records {entry.CompressedLength} compressed bytes but the archive has {archiveLength}.");
        }

        if (entry.Length > MaxExpandedLength(entry.CompressedLength))
        {
            throw new InvalidDataException(
                $"'{source}' records {entry.Length} bytes, more than its {entry.CompressedLength} compressed bytes " +
                "can hold.");
        }

        return new ZipEntryReadStream(entry.Open(), entry, source);
    }

    /// <summary>The most <paramref name="compressed"/> deflate bytes can expand to (1032:1, plus slack).</summary>
    public static long MaxExpandedLength(long compressed) =>
        compressed > long.MaxValue / 1032 ? long.MaxValue : (compressed * 1032) + 1024;

    /// <summary>
    /// Reads whatever is left of the entry and checks that it held exactly the recorded number of bytes with the
    /// recorded CRC-32. <paramref name="trailing"/> says what unread bytes would mean, for the message.
    /// </summary>
    /// <exception cref="InvalidDataException">
    /// The entry is longer or shorter than recorded, or its CRC differs.
    /// </exception>
    public void VerifyComplete(string trailing)
    {
        Span<byte> probe = stackalloc byte[4096];
        var extra = 0L;
        int read;
        while ((read = Read(probe)) > 0)
        {
            extra += read;
            if (_count > _entry.Length)
            {
                break;
            }
        }

        if (extra > 0)
        {
            throw new InvalidDataException($"'{_source}' has bytes after {trailing}.");
        }

        if (_count != _entry.Length)
        {
            throw new InvalidDataException(
                $"'{_source}' holds {_count} bytes but the archive records {_entry.Length}.");
        }

        if (_crc.Value != _entry.Crc32)
        {
            throw new InvalidDataException(
                $"'{_source}' is corrupted: its CRC-32 is {_crc.Value:X8} but the archive records {_entry.Crc32:X8}.");
        }
    }

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc />
    public override int Read(Span<byte> buffer)
    {
        var read = _inner.Read(buffer);
        _crc.Append(buffer[..read]);
        _count += read;
        return read;
    }

    /// <inheritdoc />
    public override void Flush()
    {
    }

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
