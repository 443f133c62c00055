namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// The CRC-32 of zip archives (IEEE 802.3 polynomial, reflected, 0xEDB88320), computed eight bytes at a time with the
/// slicing-by-8 tables. .NET's <c>ZipArchive</c> does not check entry CRCs when reading, so the readers do.
/// </summary>
internal struct Crc32
{
    private static readonly uint[] Table = BuildTable();
    private uint _state;

    public Crc32() => _state = 0xFFFFFFFFu;

    /// <summary>The CRC of everything appended so far.</summary>
    public readonly uint Value => ~_state;

    /// <summary>The CRC of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = new Crc32();
        crc.Append(data);
        return crc.Value;
    }

    /// <summary>Extends the CRC with <paramref name="data"/>.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        var table = Table;
        var crc = _state;
        while (data.Length >= 8)
        {
            var low = crc ^ BitConverter.ToUInt32(data);
            var high = BitConverter.ToUInt32(data[4..]);
            crc = table[(7 * 256) + (low & 0xFF)] ^ table[(6 * 256) + ((low >> 8) & 0xFF)] ^
                  table[(5 * 256) + ((low >> 16) & 0xFF)] ^ table[(4 * 256) + (low >> 24)] ^
                  table[(3 * 256) + (high & 0xFF)] ^ table[(2 * 256) + ((high >> 8) & 0xFF)] ^
                  table[256 + ((high >> 16) & 0xFF)] ^ table[high >> 24];
            data = data[8..];
        }

        foreach (var b in data)
        {
            crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        _state = crc;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[8 * 256];
        for (uint i = 0; i < 256; i++)
        {
            var c = i;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[i] = c;
        }

        // Table k advances a byte through k further zero bytes, so eight bytes can be folded in one step.
        for (var i = 0; i < 256; i++)
        {
            for (var k = 1; k < 8; k++)
            {
                var previous = table[((k - 1) * 256) + i];
                table[(k * 256) + i] = table[previous & 0xFF] ^ (previous >> 8);
            }
        }

        return table;
    }
}
