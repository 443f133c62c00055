using System.Buffers.Binary;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// Format-blind damage: bit flips, overwritten bytes, truncation, appended garbage, deleted or duplicated ranges and
/// huge integers written over the bytes. <paramref name="dataOnly"/> tells whether a range lies where the format keeps
/// raw values with no checksum (those in-place changes are undetectable by design).
/// </summary>
internal static class ByteMutations
{
    private static readonly ulong[] HugeValues =
    [
        0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFFFFFFFFFF, 0x7FFFFFFFFFFFFFFF, 1UL << 31, 1UL << 40, 0,
    ];

    public static Mutation Any(Random random, byte[] original, Func<int, int, bool> dataOnly)
    {
        var bytes = (byte[])original.Clone();
        // Tiny inputs (a zip entry of a few bytes) get the damage that needs no room.
        switch (bytes.Length < 8 ? 3 + random.Next(2) : random.Next(8))
        {
            case 0:
            case 1:
            {
                var flips = random.Next(1, 9);
                var positions = new List<int>();
                for (var i = 0; i < flips; i++)
                {
                    var at = random.Next(bytes.Length);
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    positions.Add(at);
                }

                // One flip where the format keeps unchecked values makes the whole case undetectable by design.
                return new Mutation("bit-flip", $"{flips} bit(s) flipped at bytes {string.Join(",", positions)}", bytes,
                    !positions.Any(p => dataOnly(p, 1)));
            }

            case 2:
            {
                var at = random.Next(bytes.Length);
                byte[] values = [0x00, 0xFF, (byte)'{', (byte)'"', (byte)'\n', (byte)random.Next(256)];
                var value = values[random.Next(values.Length)];
                var changed = bytes[at] != value;
                bytes[at] = value;
                return new Mutation("byte-overwrite", $"byte {at} set to 0x{value:X2}", bytes,
                    changed && !dataOnly(at, 1));
            }

            case 3:
            {
                var length = random.Next(4) == 0 ? random.Next(Math.Min(64, bytes.Length)) : random.Next(bytes.Length);
                return new Mutation(
                    "truncate", $"truncated to {length} of {bytes.Length} bytes", bytes[..length], true);
            }

            case 4:
            {
                var extra = new byte[random.Next(1, 4096)];
                random.NextBytes(extra);
                return new Mutation("append", $"{extra.Length} random bytes appended", [.. bytes, .. extra], true);
            }

            case 5:
            {
                var at = random.Next(bytes.Length);
                var count = Math.Min(bytes.Length - at, random.Next(1, 256));
                return new Mutation("delete-range", $"bytes [{at}, {at + count}) deleted",
                    [.. bytes[..at], .. bytes[(at + count)..]], true);
            }

            case 6:
            {
                var at = random.Next(bytes.Length);
                var count = Math.Min(bytes.Length - at, random.Next(1, 256));
                return new Mutation("duplicate-range", $"bytes [{at}, {at + count}) duplicated",
                    [.. bytes[..(at + count)], .. bytes[at..]], true);
            }

            default:
            {
                var width = random.Next(2) == 0 ? 4 : 8;
                var at = random.Next(Math.Max(1, bytes.Length - width));
                var value = HugeValues[random.Next(HugeValues.Length)];
                if (width == 4)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), (uint)value);
                }
                else
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at), value);
                }

                var touchesData = Enumerable.Range(at, width).Any(p => dataOnly(p, 1));
                return new Mutation("huge-integer", $"{width}-byte 0x{value:X} written at byte {at}", bytes,
                    !touchesData && !original.AsSpan(at, width).SequenceEqual(bytes.AsSpan(at, width)));
            }
        }
    }
}
