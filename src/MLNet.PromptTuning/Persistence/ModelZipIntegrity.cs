using System.IO.Compression;
using MLNet.PromptTuning.Checkpoints;

namespace MLNet.PromptTuning.Persistence;

/// <summary>
/// Checks every entry of an ML.NET model zip against the CRC-32 and size its zip headers record. .NET's
/// <see cref="ZipArchive"/> does not, so without this a damaged entry (ML.NET's schema and string tables included,
/// which no digest of this library covers) is read as if it were intact.
/// </summary>
internal static class ModelZipIntegrity
{
    /// <summary>Reads every entry of the zip at <paramref name="path"/> to its end and checks it.</summary>
    /// <exception cref="InvalidDataException">The file is not a zip, or an entry is damaged; the message names the
    /// file and the entry.</exception>
    public static void Check(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        ZipArchive archive;
        try
        {
            archive = new ZipArchive(file, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}' is not a readable model zip: {e.Message}", e);
        }

        using (archive)
        {
            var buffer = new byte[1 << 16];
            foreach (var entry in archive.Entries)
            {
                CheckEntry(path, entry, buffer);
            }
        }
    }

    private static void CheckEntry(string path, ZipArchiveEntry entry, byte[] buffer)
    {
        var crc = new Crc32();
        long length = 0;
        try
        {
            using var stream = entry.Open();
            int read;
            while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                crc.Append(buffer.AsSpan(0, read));
                length += read;
                if (length > entry.Length)
                {
                    break; // More than the header promises: damaged, and no reason to inflate further.
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException)
        {
            throw new InvalidDataException(
                $"'{path}': the model zip's entry '{entry.FullName}' cannot be read: {e.Message}", e);
        }

        if (length != entry.Length || crc.Value != entry.Crc32)
        {
            throw new InvalidDataException(
                $"'{path}': the model zip's entry '{entry.FullName}' is damaged: its header records " +
                $"{entry.Length} bytes with CRC-32 {entry.Crc32:x8}, but it holds {length} bytes with CRC-32 " +
                $"{crc.Value:x8}.");
        }
    }
}
