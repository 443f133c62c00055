using System.Buffers.Binary;
using System.IO.Compression;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// Damage that knows the zip layout (for <c>.npz</c>, <c>torch.save</c> files, and in phase 2 the model zip): recorded
/// sizes, CRCs, names, compression methods and directory offsets edited, bytes of an entry's data flipped, and entries
/// repacked after an inner mutation (the <c>inner</c> argument) with their CRC recomputed, which reaches the inner
/// format past the checksum (so changed values are then undetectable by design).
/// </summary>
internal static class ZipMutations
{
    private static readonly uint[] Sizes = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 2u << 29];

    public static Mutation Any(Random random, byte[] original, Func<Random, string, byte[], Mutation?> inner)
    {
        var entries = CentralEntries(original);
        if (entries.Count == 0 || random.Next(4) == 0)
        {
            // Only entry names escape the CRC (in the central directory and in each local header).
            var names = entries.SelectMany(e => new[] { (e.Central + 46, e.NameLength), (e.Local + 30, e.NameLength) })
                .ToList();
            return ByteMutations.Any(random, original,
                (at, count) => names.Any(n => at < n.Item1 + n.Item2 && at + count > n.Item1));
        }

        var (central, local, nameLength) = entries[random.Next(entries.Count)];
        var bytes = (byte[])original.Clone();
        switch (random.Next(7))
        {
            case 0:
            {
                int[] fields = [central + 20, central + 24, local + 18, local + 22];
                var field = fields[random.Next(fields.Length)];
                var value = Sizes[random.Next(Sizes.Length)] + (uint)random.Next(-1, 2);
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(field), value);
                return new Mutation("zip-size", $"size field at byte {field} set to {value}", bytes, true);
            }

            case 1:
            {
                var field = random.Next(2) == 0 ? central + 16 : local + 14;
                bytes[field + random.Next(4)] ^= (byte)(1 << random.Next(8));
                return new Mutation("zip-crc", $"CRC field at byte {field} flipped", bytes, true);
            }

            case 2:
            {
                var at = central + 46 + random.Next(Math.Max(1, nameLength));
                bytes[at] ^= (byte)(1 << random.Next(8));
                // A zip's CRC covers data, not names: a renamed entry is undetectable by the zip format itself (the
                // loaders refuse names they do not expect).
                return new Mutation("zip-name", $"a byte of an entry name flipped at {at}", bytes, false);
            }

            case 3:
            {
                ushort[] methods = [0, 8, 9, 12, 14, 99];
                var field = random.Next(2) == 0 ? central + 10 : local + 8;
                var method = methods[random.Next(methods.Length)];
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(field), method);
                return new Mutation("zip-method", $"compression method at byte {field} set to {method}", bytes, true);
            }

            case 4:
            {
                var end = original.AsSpan().LastIndexOf("PK\x05\x06"u8);
                int[] fields = [end + 8, end + 10, end + 12, end + 16, end + 20, central + 42, local + 26, local + 28];
                var field = fields[random.Next(fields.Length)];
                uint[] values = [0, 1, 0xFFFF, 0xFFFFFFFF, (uint)random.Next(original.Length)];
                var value = values[random.Next(values.Length)];
                var twoBytes = field == end + 8 || field == end + 10 || field == end + 20 || field == local + 26 ||
                               field == local + 28;
                var width = twoBytes ? 2 : 4;
                if (width == 2)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(field), (ushort)value);
                }
                else
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(field), value);
                }

                return new Mutation("zip-structure", $"directory field at byte {field} set to {value}", bytes, true);
            }

            case 5:
            {
                var dataStart = local + 30 + BinaryPrimitives.ReadUInt16LittleEndian(original.AsSpan(local + 26)) +
                                BinaryPrimitives.ReadUInt16LittleEndian(original.AsSpan(local + 28));
                var size = (int)BinaryPrimitives.ReadUInt32LittleEndian(original.AsSpan(central + 20));
                if (size == 0)
                {
                    goto default;
                }

                var at = dataStart + random.Next(size);
                bytes[at] ^= (byte)(1 << random.Next(8));
                return new Mutation(
                    "zip-entry-data", $"a bit of an entry's stored data flipped at byte {at}", bytes, true);
            }

            default:
                return Repack(random, original, inner) ?? ByteMutations.Any(random, original, (at, count) => false);
        }
    }

    /// <summary>Rewrites the archive with one entry changed by <paramref name="inner"/> (CRC recomputed).</summary>
    private static Mutation? Repack(Random random, byte[] original, Func<Random, string, byte[], Mutation?> inner)
    {
        var entries = new List<(string Name, byte[] Bytes, bool Deflated)>();
        using (var archive = new ZipArchive(new MemoryStream(original), ZipArchiveMode.Read))
        {
            foreach (var entry in archive.Entries)
            {
                using var stream = entry.Open();
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                entries.Add((entry.FullName, copy.ToArray(), entry.CompressedLength != entry.Length));
            }
        }

        var index = random.Next(entries.Count);
        var mutation = inner(random, entries[index].Name, entries[index].Bytes);
        if (mutation is null)
        {
            return null;
        }

        using var output = new MemoryStream();
        using (var archive = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            for (var i = 0; i < entries.Count; i++)
            {
                var level = entries[i].Deflated ? CompressionLevel.Optimal : CompressionLevel.NoCompression;
                using var stream = archive.CreateEntry(entries[i].Name, level).Open();
                stream.Write(i == index ? mutation.Bytes : entries[i].Bytes);
            }
        }

        return mutation with
        {
            Kind = "repack-" + mutation.Kind,
            Description = $"entry '{entries[index].Name}' repacked with a valid CRC after: {mutation.Description}",
            Bytes = output.ToArray(),
        };
    }

    /// <summary>(central record, local header, name length) of every entry; empty when unparsable.</summary>
    private static List<(int Central, int Local, int NameLength)> CentralEntries(byte[] zip)
    {
        var result = new List<(int, int, int)>();
        var end = zip.AsSpan().LastIndexOf("PK\x05\x06"u8);
        if (end < 0 || end + 22 > zip.Length)
        {
            return result;
        }

        var position = (int)BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(end + 16));
        var count = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(end + 10));
        for (var i = 0; i < count && position + 46 <= zip.Length; i++)
        {
            var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(position + 28));
            var extra = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(position + 30));
            var comment = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(position + 32));
            var local = (int)BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(position + 42));
            if (local + 30 > zip.Length)
            {
                break;
            }

            result.Add((position, local, nameLength));
            position += 46 + nameLength + extra + comment;
        }

        return result;
    }
}
