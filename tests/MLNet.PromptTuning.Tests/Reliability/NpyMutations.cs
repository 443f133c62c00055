using System.Buffers.Binary;
using System.Text;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// Damage that knows the <c>.npy</c> layout: header-length and version edits, descr swaps, shape edits (huge,
/// negative, permuted, deeply nested), dict edits and a Fortran-order flip; otherwise format-blind damage, of which
/// in-place changes inside the array data are undetectable by design (no checksum).
/// </summary>
internal static class NpyMutations
{
    private static readonly string[] Descrs = ["<i4", "<f2", "<f8", ">f4", "|O", "<c8", "<U3", "=f4", "<f4 ", "|b1"];

    public static Mutation Any(Random random, byte[] original)
    {
        var major = original[6];
        var lengthBytes = major == 1 ? 2 : 4;
        var headerLength = major == 1
            ? BinaryPrimitives.ReadUInt16LittleEndian(original.AsSpan(8))
            : (int)BinaryPrimitives.ReadUInt32LittleEndian(original.AsSpan(8));
        var dataStart = 8 + lengthBytes + headerLength;
        if (random.Next(3) == 0)
        {
            return ByteMutations.Any(random, original, (at, count) => at >= dataStart);
        }

        var header = Encoding.Latin1.GetString(original, 8 + lengthBytes, headerLength).TrimEnd(' ', '\n');
        var data = original[dataStart..];
        var shapeStart = header.IndexOf("'shape': (", StringComparison.Ordinal) + "'shape': ".Length;
        var shapeEnd = header.IndexOf(')', shapeStart) + 1;
        var dims = header[(shapeStart + 1)..(shapeEnd - 1)].Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => long.Parse(d.Trim(), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        switch (random.Next(7))
        {
            case 0:
            {
                int[] deltas = [-1, 1, -16, 16, 60_000, -headerLength];
                var delta = deltas[random.Next(deltas.Length)];
                var bytes = (byte[])original.Clone();
                if (major == 1)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)(headerLength + delta));
                }
                else
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)(headerLength + delta));
                }

                return new Mutation(
                    "npy-header-length", $"header length {headerLength} changed by {delta}", bytes, true);
            }

            case 1:
            {
                var bytes = (byte[])original.Clone();
                byte[] versions = [0, 4, 255, 2, 3, 1];
                bytes[6] = versions[random.Next(versions.Length)];
                // Versions 1 and 2/3 store the header length in 2 and 4 bytes: a switch misreads it.
                return new Mutation("npy-version", $"format version {major} changed to {bytes[6]}", bytes,
                    (bytes[6] == 1) != (major == 1) || bytes[6] is 0 or 4 or 255);
            }

            case 2:
            {
                var descr = Descrs[random.Next(Descrs.Length)];
                var start = header.IndexOf("'descr': '", StringComparison.Ordinal) + "'descr': '".Length;
                var end = header.IndexOf('\'', start);
                var old = header[start..end];
                // A readable descr of the same element size reinterprets the bytes consistently (float32 read as
                // int32, uint8 as bool): the format cannot tell; a loader that expects floats refuses integers.
                var sameSize = ReadableSize(descr) is { } size && size == ReadableSize(old);
                var sameMeaning = descr == old || sameSize;
                return Rebuild("npy-descr", $"descr '{old}' changed to '{descr}'",
                    header[..start] + descr + header[end..], data, !sameMeaning);
            }

            case 3:
            {
                long[] values = [0, -1, 1L << 40, 1L << 62, long.MaxValue, 3, 536870912];
                var changed = dims.Length == 0 ? [values[random.Next(values.Length)]] : dims.ToArray();
                if (dims.Length > 1 && random.Next(3) == 0)
                {
                    changed = dims.Reverse().ToArray();
                }
                else if (dims.Length > 0)
                {
                    changed[random.Next(dims.Length)] = values[random.Next(values.Length)];
                }

                var text = "(" + string.Join(", ", changed) + (changed.Length == 1 ? ",)" : ")");
                var sameCount = changed.Aggregate(1L, (a, b) => unchecked(a * b)) == dims.Aggregate(1L, (a, b) => a * b)
                                && changed.All(d => d >= 0);
                return Rebuild("npy-shape", $"shape {header[shapeStart..shapeEnd]} changed to {text}",
                    header[..shapeStart] + text + header[shapeEnd..], data, !sameCount);
            }

            case 4:
            {
                var depth = random.Next(2) == 0 ? 50 : 200_000;
                var nested = new string('(', depth) + new string(')', depth);
                return Rebuild("npy-deep-nesting", $"shape nested {depth} levels deep",
                    header[..shapeStart] + nested + header[shapeEnd..], data, true, forceVersion2: true);
            }

            case 5:
            {
                string[] edits =
                [
                    "{}", "[1, 2]", header.Replace("'descr'", "'desc'", StringComparison.Ordinal),
                    header.Replace("{", "{'shape': (1,), ", StringComparison.Ordinal),
                    "{'descr': '<f4', " + header[1..], header.Replace("False", "0", StringComparison.Ordinal),
                    header + " junk",
                ];
                var edit = edits[random.Next(edits.Length)];
                return Rebuild("npy-dict", "header dict edited", edit, data, edit != header);
            }

            default:
            {
                var flipped = header.Contains("False", StringComparison.Ordinal)
                    ? header.Replace("False", "True", StringComparison.Ordinal)
                    : header.Replace("True", "False", StringComparison.Ordinal);
                // A consistent header whose meaning changed: a reader cannot know (only 1-D arrays are unaffected).
                return Rebuild("npy-fortran-flip", "fortran_order flipped", flipped, data, false);
            }
        }
    }

    private static int? ReadableSize(string descr) => descr switch
    {
        "<f8" or "<i8" => 8,
        "<f4" or "=f4" or "<i4" => 4,
        "<f2" or "<i2" => 2,
        "|u1" or "|i1" or "|b1" => 1,
        _ => null,
    };

    /// <summary>A .npy file around the header text: version 1 when it fits (or as asked), padded like numpy.</summary>
    public static byte[] Assemble(string header, byte[] data, bool forceVersion2 = false)
    {
        var version2 = forceVersion2 || header.Length + 11 > ushort.MaxValue;
        var prefix = version2 ? 12 : 10;
        var total = (prefix + header.Length + 1 + 63) / 64 * 64;
        var text = header.PadRight(total - prefix - 1) + "\n";
        var bytes = new byte[total + data.Length];
        bytes[0] = 0x93;
        "NUMPY"u8.CopyTo(bytes.AsSpan(1));
        bytes[6] = (byte)(version2 ? 2 : 1);
        if (version2)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)text.Length);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)text.Length);
        }

        Encoding.Latin1.GetBytes(text).CopyTo(bytes, prefix);
        data.CopyTo(bytes, total);
        return bytes;
    }

    private static Mutation Rebuild(
        string kind, string description, string header, byte[] data, bool detectable, bool forceVersion2 = false) =>
        new(kind, description, Assemble(header, data, forceVersion2), detectable);
}
