using System.Buffers.Binary;
using System.Text;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// Finds PNG and JPEG files that end early. The SkiaSharp decoder behind <c>MLImage</c> returns a truncated file as
/// a complete image whose missing part is blank, so a cut-off download would train silently on wrong pixels; this
/// check walks the file's structure (PNG chunks up to <c>IEND</c>, JPEG segments and scans up to <c>EOI</c>) without
/// decoding any pixel. Other formats pass unchecked.
/// </summary>
internal static class EncodedImageIntegrity
{
    private static ReadOnlySpan<byte> PngSignature => new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };

    /// <summary>Null when <paramref name="file"/> is complete (or not PNG/JPEG); otherwise what is
    /// missing.</summary>
    public static string? FindTruncation(ReadOnlySpan<byte> file)
    {
        if (file.StartsWith(PngSignature))
        {
            return CheckPng(file);
        }

        return file.Length >= 2 && file[0] == 0xFF && file[1] == 0xD8 ? CheckJpeg(file) : null;
    }

    private static string? CheckPng(ReadOnlySpan<byte> file)
    {
        long offset = PngSignature.Length;
        while (offset + 8 <= file.Length)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(file.Slice((int)offset, 4));
            string type = Encoding.ASCII.GetString(file.Slice((int)offset + 4, 4));
            long end = offset + 12 + length; // length, type, data, CRC
            if (end > file.Length)
            {
                return $"is a truncated PNG: its '{type}' chunk at byte {offset} needs {end - offset} bytes " +
                    $"but the file ends after {file.Length - offset}";
            }

            if (type == "IEND")
            {
                return null;
            }

            offset = end;
        }

        return $"is a truncated PNG: the file ends after {file.Length} bytes without its IEND chunk";
    }

    private static string? CheckJpeg(ReadOnlySpan<byte> file)
    {
        int offset = 2;
        while (true)
        {
            // Markers may be preceded by any number of 0xFF fill bytes.
            while (offset < file.Length && file[offset] == 0xFF && offset + 1 < file.Length
                && file[offset + 1] == 0xFF)
            {
                offset++;
            }

            if (offset + 2 > file.Length)
            {
                return Truncated(file.Length);
            }

            if (file[offset] != 0xFF)
            {
                return $"is a damaged JPEG: expected a marker at byte {offset}, found 0x{file[offset]:X2}";
            }

            byte marker = file[offset + 1];
            offset += 2;
            if (marker == 0xD9)
            {
                return null; // end of image
            }

            if (marker is 0x01 or (>= 0xD0 and <= 0xD7))
            {
                continue; // markers without a length
            }

            if (offset + 2 > file.Length)
            {
                return Truncated(file.Length);
            }

            int length = BinaryPrimitives.ReadUInt16BigEndian(file.Slice(offset, 2));
            if (length < 2 || offset + length > file.Length)
            {
                return Truncated(file.Length);
            }

            offset += length;
            if (marker == 0xDA)
            {
                offset = SkipEntropyCodedData(file, offset);
            }
        }
    }

    /// <summary>The offset of the first marker after a scan's entropy-coded bytes (0xFF 0x00 is a stuffed byte and
    /// 0xFF 0xD0–D7 a restart marker; both belong to the scan).</summary>
    private static int SkipEntropyCodedData(ReadOnlySpan<byte> file, int offset)
    {
        while (true)
        {
            int next = file.Slice(offset).IndexOf((byte)0xFF);
            if (next < 0 || offset + next + 1 >= file.Length)
            {
                return file.Length;
            }

            offset += next;
            byte following = file[offset + 1];
            if (following == 0x00 || following is >= 0xD0 and <= 0xD7 || following == 0xFF)
            {
                offset += following == 0xFF ? 1 : 2;
                continue;
            }

            return offset;
        }
    }

    private static string Truncated(int length) =>
        $"is a truncated JPEG: the file ends after {length} bytes without its end-of-image marker";
}
