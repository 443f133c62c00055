#nullable enable
// MSBuild inline task (compiled by RoslynCodeTaskFactory, so it targets netstandard and uses no newer APIs; the task
// factory cannot reference System.Reflection.Metadata, hence the small ECMA-335 table reader below).
//
// For each selected reference assembly it writes a copy in which internal types and members are public, so the
// compiler lets the library call ML.NET internals. Only the compiler sees the copies: the original assemblies are what
// is copied to the output and what runs, where [IgnoresAccessChecksTo] grants the access. Only the visibility bits in
// the TypeDef, Field and MethodDef tables change; every other byte stays as it was.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class PublicizeAssemblies : Task
{
    // ECMA-335 II.22 table numbers used below.
    private const int TypeRefTable = 0x01;
    private const int TypeDefTable = 0x02;
    private const int FieldPtrTable = 0x03;
    private const int FieldTable = 0x04;
    private const int MethodPtrTable = 0x05;
    private const int MethodDefTable = 0x06;
    private const int ParamPtrTable = 0x07;
    private const int ParamTable = 0x08;
    private const int ModuleRefTable = 0x1A;
    private const int TypeSpecTable = 0x1B;
    private const int AssemblyRefTable = 0x23;

    /// <summary>The compiler's references (ReferencePathWithRefAssemblies).</summary>
    [Required]
    public ITaskItem[] Assemblies { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>Simple names of the assemblies to publicize, for example Microsoft.ML.Core.</summary>
    [Required]
    public ITaskItem[] Names { get; set; } = Array.Empty<ITaskItem>();

    [Required]
    public string OutputDirectory { get; set; } = string.Empty;

    /// <summary>The publicized copies, carrying the metadata of the references they replace.</summary>
    [Output]
    public ITaskItem[] Publicized { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>The original references that the copies replace.</summary>
    [Output]
    public ITaskItem[] Replaced { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        var wanted = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (ITaskItem name in Names)
        {
            wanted.Add(name.ItemSpec.Trim());
        }

        var publicized = new List<ITaskItem>();
        var replaced = new List<ITaskItem>();
        var found = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        Directory.CreateDirectory(OutputDirectory);

        foreach (ITaskItem reference in Assemblies)
        {
            string name = Path.GetFileNameWithoutExtension(reference.ItemSpec);
            if (!wanted.Contains(name) || !found.Add(name))
            {
                continue;
            }

            string source = reference.GetMetadata("FullPath");
            string target = Path.Combine(OutputDirectory, Path.GetFileName(source));
            try
            {
                if (IsUpToDate(source, target))
                {
                    Log.LogMessage(MessageImportance.Low, $"Publicized {name} is up to date.");
                }
                else
                {
                    byte[] image = File.ReadAllBytes(source);
                    Counts counts = Publicize(image);

                    // Write beside and move over, so a cancelled build never leaves a half-written reference.
                    string temporary = target + ".publicizing";
                    File.WriteAllBytes(temporary, image);
                    if (File.Exists(target))
                    {
                        File.Delete(target);
                    }

                    File.Move(temporary, target);
                    Log.LogMessage(MessageImportance.Normal,
                        $"Publicized {name}: {counts.Types} types, {counts.Methods} methods, {counts.Fields} fields.");
                }
            }
            catch (Exception e) when (e is IOException || e is InvalidDataException ||
                                      e is UnauthorizedAccessException || e is IndexOutOfRangeException ||
                                      e is ArgumentOutOfRangeException)
            {
                Log.LogError($"Could not publicize the reference '{source}': {e.Message}");
                return false;
            }

            var copy = new TaskItem(target);
            reference.CopyMetadataTo(copy);
            publicized.Add(copy);
            replaced.Add(reference);
        }

        foreach (string name in wanted)
        {
            if (!found.Contains(name))
            {
                Log.LogError($"Publicize names '{name}', but no compiler reference has that name.");
                return false;
            }
        }

        Publicized = publicized.ToArray();
        Replaced = replaced.ToArray();
        return true;
    }

    private static bool IsUpToDate(string source, string target) =>
        File.Exists(target) &&
        File.GetLastWriteTimeUtc(target) >= File.GetLastWriteTimeUtc(source) &&
        new FileInfo(target).Length == new FileInfo(source).Length;

    private struct Counts
    {
        public int Types;
        public int Methods;
        public int Fields;
    }

    private static Counts Publicize(byte[] image)
    {
        int metadata = FindMetadataRoot(image);
        if (ReadUInt32(image, metadata) != 0x424A5342)
        {
            throw new InvalidDataException("the CLI metadata signature is missing");
        }

        int versionLength = ReadInt32(image, metadata + 12);
        int streamHeaders = metadata + 16 + versionLength + 4; // version string, then Flags (2) and Streams (2)
        int streamCount = ReadUInt16(image, metadata + 16 + versionLength + 2);

        int tables = -1;
        int strings = -1;
        for (int s = 0, at = streamHeaders; s < streamCount; s++)
        {
            int offset = ReadInt32(image, at);
            string name = ReadCString(image, at + 8);
            if (name == "#~" || name == "#-")
            {
                tables = metadata + offset;
            }
            else if (name == "#Strings")
            {
                strings = metadata + offset;
            }

            at += 8 + ((name.Length + 4) & ~3); // name plus terminator, padded to 4 bytes
        }

        if (tables < 0 || strings < 0)
        {
            throw new InvalidDataException("the #~ or #Strings metadata stream is missing");
        }

        byte heapSizes = image[tables + 6];
        ulong valid = ReadUInt64(image, tables + 8);
        var rows = new int[64];
        int position = tables + 24;
        for (int t = 0; t < 64; t++)
        {
            if ((valid & (1UL << t)) != 0)
            {
                rows[t] = ReadInt32(image, position);
                position += 4;
            }
        }

        int stringIndex = (heapSizes & 0x01) != 0 ? 4 : 2;
        int guidIndex = (heapSizes & 0x02) != 0 ? 4 : 2;
        int blobIndex = (heapSizes & 0x04) != 0 ? 4 : 2;
        int Index(params int[] targets) => CodedIndexSize(rows, 0, targets);
        int Coded2(params int[] targets) => CodedIndexSize(rows, 2, targets);

        int moduleRow = 2 + stringIndex + 3 * guidIndex;
        int typeRefRow = Coded2(0x00, ModuleRefTable, AssemblyRefTable, TypeRefTable) + 2 * stringIndex;
        int typeDefRow = 4 + 2 * stringIndex + Coded2(TypeDefTable, TypeRefTable, TypeSpecTable) +
                         Index(FieldTable, FieldPtrTable) + Index(MethodDefTable, MethodPtrTable);
        int fieldPtrRow = Index(FieldTable);
        int fieldRow = 2 + stringIndex + blobIndex;
        int methodPtrRow = Index(MethodDefTable);
        int methodDefRow = 4 + 2 + 2 + stringIndex + blobIndex + Index(ParamTable, ParamPtrTable);

        int moduleStart = position;
        int typeRefStart = moduleStart + rows[0x00] * moduleRow;
        int typeDefStart = typeRefStart + rows[TypeRefTable] * typeRefRow;
        int fieldPtrStart = typeDefStart + rows[TypeDefTable] * typeDefRow;
        int fieldStart = fieldPtrStart + rows[FieldPtrTable] * fieldPtrRow;
        int methodPtrStart = fieldStart + rows[FieldTable] * fieldRow;
        int methodDefStart = methodPtrStart + rows[MethodPtrTable] * methodPtrRow;

        var counts = new Counts();
        for (int r = 0; r < rows[TypeDefTable]; r++)
        {
            int row = typeDefStart + r * typeDefRow;
            if (IsCompilerGenerated(image, strings, row + 4, stringIndex))
            {
                continue;
            }

            uint flags = ReadUInt32(image, row);
            uint visibility = flags & 0x7;
            uint publicized = visibility switch
            {
                0 => 1u,           // NotPublic -> Public
                5 or 6 or 7 => 2u, // NestedAssembly, NestedFamANDAssem, NestedFamORAssem -> NestedPublic
                _ => visibility,
            };
            if (publicized != visibility)
            {
                WriteUInt32(image, row, (flags & ~0x7u) | publicized);
                counts.Types++;
            }
        }

        counts.Fields = PublicizeMembers(image, strings, stringIndex, fieldStart, rows[FieldTable], fieldRow, 0);
        counts.Methods = PublicizeMembers(image, strings, stringIndex, methodDefStart, rows[MethodDefTable],
            methodDefRow, 6);
        return counts;
    }

    // Field and MethodDef rows share the member access values: FamANDAssem 2, Assembly 3, Family 4, FamORAssem 5,
    // Public 6. The name index follows the 2-byte flags in both tables.
    private static int PublicizeMembers(byte[] image, int strings, int stringIndex, int start, int count, int rowSize,
        int flagsOffset)
    {
        int changed = 0;
        for (int r = 0; r < count; r++)
        {
            int row = start + r * rowSize;
            if (IsCompilerGenerated(image, strings, row + flagsOffset + 2, stringIndex))
            {
                continue;
            }

            int flags = ReadUInt16(image, row + flagsOffset);
            int access = flags & 0x7;
            int publicized = access switch
            {
                3 or 5 => 6, // internal, protected internal -> public
                2 => 4,      // private protected -> protected
                _ => access,
            };
            if (publicized != access)
            {
                int updated = (flags & ~0x7) | publicized;
                image[row + flagsOffset] = (byte)(updated & 0xff);
                image[row + flagsOffset + 1] = (byte)(updated >> 8);
                changed++;
            }
        }

        return changed;
    }

    private static bool IsCompilerGenerated(byte[] image, int strings, int nameIndexAt, int stringIndex)
    {
        int name = stringIndex == 4 ? ReadInt32(image, nameIndexAt) : ReadUInt16(image, nameIndexAt);
        return image[strings + name] == (byte)'<';
    }

    private static int CodedIndexSize(int[] rows, int tagBits, int[] targets)
    {
        int largest = 0;
        foreach (int t in targets)
        {
            largest = Math.Max(largest, rows[t]);
        }

        return largest < (1 << (16 - tagBits)) ? 2 : 4;
    }

    private static int FindMetadataRoot(byte[] image)
    {
        if (image.Length < 0x40 || image[0] != (byte)'M' || image[1] != (byte)'Z')
        {
            throw new InvalidDataException("not a PE file");
        }

        int pe = ReadInt32(image, 0x3C);
        if (ReadUInt32(image, pe) != 0x00004550)
        {
            throw new InvalidDataException("the PE signature is missing");
        }

        int coff = pe + 4;
        int sectionCount = ReadUInt16(image, coff + 2);
        int optionalHeaderSize = ReadUInt16(image, coff + 16);
        int optional = coff + 20;
        int magic = ReadUInt16(image, optional);
        int dataDirectories = optional + (magic == 0x20B ? 112 : 96);
        int cliHeaderRva = ReadInt32(image, dataDirectories + 14 * 8);
        if (cliHeaderRva == 0)
        {
            throw new InvalidDataException("not a .NET assembly (no CLI header)");
        }

        int sections = optional + optionalHeaderSize;
        int cliHeader = RvaToOffset(image, sections, sectionCount, cliHeaderRva);
        return RvaToOffset(image, sections, sectionCount, ReadInt32(image, cliHeader + 8));
    }

    private static int RvaToOffset(byte[] image, int sections, int sectionCount, int rva)
    {
        for (int s = 0; s < sectionCount; s++)
        {
            int header = sections + s * 40;
            int virtualSize = ReadInt32(image, header + 8);
            int virtualAddress = ReadInt32(image, header + 12);
            int rawSize = ReadInt32(image, header + 16);
            int rawPointer = ReadInt32(image, header + 20);
            if (rva >= virtualAddress && rva < virtualAddress + Math.Max(virtualSize, rawSize))
            {
                return rva - virtualAddress + rawPointer;
            }
        }

        throw new InvalidDataException($"RVA 0x{rva:X} lies in no section");
    }

    private static int ReadUInt16(byte[] b, int at) => b[at] | (b[at + 1] << 8);

    private static int ReadInt32(byte[] b, int at) => BitConverter.ToInt32(b, at);

    private static uint ReadUInt32(byte[] b, int at) => BitConverter.ToUInt32(b, at);

    private static ulong ReadUInt64(byte[] b, int at) => BitConverter.ToUInt64(b, at);

    private static void WriteUInt32(byte[] b, int at, uint value)
    {
        b[at] = (byte)value;
        b[at + 1] = (byte)(value >> 8);
        b[at + 2] = (byte)(value >> 16);
        b[at + 3] = (byte)(value >> 24);
    }

    private static string ReadCString(byte[] b, int at)
    {
        int end = at;
        while (end < b.Length && b[end] != 0)
        {
            end++;
        }

        return Encoding.ASCII.GetString(b, at, end - at);
    }
}
