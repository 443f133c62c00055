using System.IO.Compression;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>A zip rewritten entry by entry (names and order kept, CRCs recomputed, every entry deflated).</summary>
internal static class ZipRewrite
{
    /// <summary>
    /// The archive with each entry's bytes passed through <paramref name="change"/> (given the entry's name) and, when
    /// <paramref name="time"/> is set, every entry dated to it, so that equal content gives equal bytes.
    /// </summary>
    public static byte[] Rewrite(byte[] zip, Func<string, byte[], byte[]> change, DateTimeOffset? time = null)
    {
        using var output = new MemoryStream();
        using (var source = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read))
        using (var target = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var entry in source.Entries)
            {
                using var buffer = new MemoryStream();
                using (var from = entry.Open())
                {
                    from.CopyTo(buffer);
                }

                var copy = target.CreateEntry(entry.FullName, CompressionLevel.Optimal);
                if (time is { } fixedTime)
                {
                    copy.LastWriteTime = fixedTime;
                }

                using var to = copy.Open();
                to.Write(change(entry.FullName, buffer.ToArray()));
            }
        }

        return output.ToArray();
    }
}
