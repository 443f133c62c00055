using System.Buffers.Binary;
using System.Text;

namespace MLNet.PromptTuning.Runtime;

/// <summary>
/// One symbol-version requirement of a shared library: <paramref name="Version"/> from <paramref name="File"/>.
/// </summary>
/// <param name="File">
/// The library the version is needed from, as the requirement names it (for example <c>libstdc++.so.6</c>).
/// </param>
/// <param name="Version">The version name (for example <c>GLIBCXX_3.4.32</c>).</param>
/// <param name="IsWeak">
/// True when the requirement carries <c>VER_FLG_WEAK</c>: the loader then only warns if it is missing.
/// </param>
/// <param name="FlagsOffset">File offset of the requirement's 16-bit flags field.</param>
internal readonly record struct ElfVersionNeed(string File, string Version, bool IsWeak, int FlagsOffset);

/// <summary>
/// What the dynamic loader checks of a little-endian ELF64 shared library: the libraries it links to
/// (<c>DT_NEEDED</c>), the symbol versions it needs from them (<c>.gnu.version_r</c>) and the versions it defines
/// (<c>.gnu.version_d</c>). glibc's loader refuses a library when a needed version is missing from the loaded
/// provider, unless that requirement is marked weak.
/// </summary>
internal sealed class ElfDynamicInfo
{
    private const uint SectionTypeDynamic = 6;
    private const uint SectionTypeVersionNeed = 0x6ffffffe;
    private const uint SectionTypeVersionDefinition = 0x6ffffffd;
    private const ushort VersionFlagWeak = 0x2;

    private const long DynamicTagNeeded = 1;

    private ElfDynamicInfo(
        IReadOnlyList<string> neededLibraries, IReadOnlyList<ElfVersionNeed> needs, IReadOnlySet<string> definitions)
    {
        NeededLibraries = neededLibraries;
        Needs = needs;
        Definitions = definitions;
    }

    /// <summary>The libraries it links to (<c>DT_NEEDED</c>), in load order.</summary>
    public IReadOnlyList<string> NeededLibraries { get; }

    /// <summary>Every version requirement, in file order.</summary>
    public IReadOnlyList<ElfVersionNeed> Needs { get; }

    /// <summary>The version names this library defines (its own soname entry included).</summary>
    public IReadOnlySet<string> Definitions { get; }

    /// <summary>Reads the dynamic section and version tables of an ELF64 little-endian image.</summary>
    /// <param name="image">The whole file.</param>
    /// <param name="description">Names the file in error messages.</param>
    /// <exception cref="InvalidDataException">The image is not a well-formed little-endian ELF64 file.</exception>
    public static ElfDynamicInfo Read(ReadOnlySpan<byte> image, string description)
    {
        if (image.Length < 64 || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L'
            || image[3] != (byte)'F' || image[4] != 2 || image[5] != 1)
        {
            throw new InvalidDataException($"'{description}' is not a little-endian ELF64 shared library.");
        }

        try
        {
            return ReadTables(image);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidDataException($"'{description}' has a malformed ELF section or version table.", e);
        }
        catch (OverflowException e)
        {
            throw new InvalidDataException($"'{description}' has a malformed ELF section or version table.", e);
        }
    }

    /// <summary>Sets <c>VER_FLG_WEAK</c> on <paramref name="need"/> in <paramref name="image"/>: one bit.</summary>
    public static void MarkWeak(Span<byte> image, ElfVersionNeed need)
    {
        var flags = BinaryPrimitives.ReadUInt16LittleEndian(image[need.FlagsOffset..]);
        BinaryPrimitives.WriteUInt16LittleEndian(image[need.FlagsOffset..], (ushort)(flags | VersionFlagWeak));
    }

    private static ElfDynamicInfo ReadTables(ReadOnlySpan<byte> image)
    {
        var sectionTable = checked((int)U64(image, 0x28));
        int sectionSize = U16(image, 0x3A), sectionCount = U16(image, 0x3C);
        var libraries = new List<string>();
        var needs = new List<ElfVersionNeed>();
        var definitions = new HashSet<string>(StringComparer.Ordinal);

        for (var s = 0; s < sectionCount; s++)
        {
            var header = checked(sectionTable + s * sectionSize);
            var type = U32(image, header + 4);
            if (type != SectionTypeDynamic && type != SectionTypeVersionNeed && type != SectionTypeVersionDefinition)
            {
                continue;
            }

            var table = checked((int)U64(image, header + 0x18));
            var entryCount = checked((int)U32(image, header + 0x2C));
            var stringsHeader = checked(sectionTable + (int)U32(image, header + 0x28) * sectionSize);
            var strings = checked((int)U64(image, stringsHeader + 0x18));

            if (type == SectionTypeDynamic)
            {
                ReadNeededLibraries(image, table, checked((int)U64(image, header + 0x20)), strings, libraries);
            }
            else if (type == SectionTypeVersionNeed)
            {
                ReadNeeds(image, table, entryCount, strings, needs);
            }
            else
            {
                ReadDefinitions(image, table, entryCount, strings, definitions);
            }
        }

        return new ElfDynamicInfo(libraries, needs, definitions);
    }

    private static void ReadNeededLibraries(
        ReadOnlySpan<byte> image, int table, int size, int strings, List<string> libraries)
    {
        for (var entry = table; entry + 16 <= table + size; entry += 16)
        {
            var tag = (long)U64(image, entry);
            if (tag == 0)
            {
                break; // DT_NULL ends the table
            }

            if (tag == DynamicTagNeeded)
            {
                libraries.Add(CString(image, checked(strings + (int)U64(image, entry + 8))));
            }
        }
    }

    private static void ReadNeeds(
        ReadOnlySpan<byte> image, int table, int count, int strings, List<ElfVersionNeed> needs)
    {
        var entry = table;
        for (var n = 0; n < count; n++)
        {
            var file = CString(image, checked(strings + (int)U32(image, entry + 4)));
            var aux = checked(entry + (int)U32(image, entry + 8));
            for (var a = U16(image, entry + 2); a > 0; a--)
            {
                var flags = U16(image, aux + 4);
                var name = CString(image, checked(strings + (int)U32(image, aux + 8)));
                needs.Add(new ElfVersionNeed(file, name, (flags & VersionFlagWeak) != 0, aux + 4));
                aux = checked(aux + (int)U32(image, aux + 12));
            }

            entry = checked(entry + (int)U32(image, entry + 12));
        }
    }

    private static void ReadDefinitions(
        ReadOnlySpan<byte> image, int table, int count, int strings, HashSet<string> definitions)
    {
        var entry = table;
        for (var d = 0; d < count; d++)
        {
            // The first auxiliary entry of a definition is its own name; later ones name its parents.
            var aux = checked(entry + (int)U32(image, entry + 12));
            definitions.Add(CString(image, checked(strings + (int)U32(image, aux))));
            entry = checked(entry + (int)U32(image, entry + 16));
        }
    }

    private static ushort U16(ReadOnlySpan<byte> image, int offset) =>
        BinaryPrimitives.ReadUInt16LittleEndian(image.Slice(offset, 2));

    private static uint U32(ReadOnlySpan<byte> image, int offset) =>
        BinaryPrimitives.ReadUInt32LittleEndian(image.Slice(offset, 4));

    private static ulong U64(ReadOnlySpan<byte> image, int offset) =>
        BinaryPrimitives.ReadUInt64LittleEndian(image.Slice(offset, 8));

    private static string CString(ReadOnlySpan<byte> image, int offset)
    {
        var length = image[offset..].IndexOf((byte)0);
        if (length < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), "unterminated string");
        }

        return Encoding.ASCII.GetString(image.Slice(offset, length));
    }
}
