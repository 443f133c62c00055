#nullable enable
// MSBuild inline task (compiled by RoslynCodeTaskFactory, so it targets netstandard and uses no newer APIs).
// It edits the ELF .gnu.version_r section of a copied shared library: the Vernaux entry with the given version
// name gets VER_FLG_WEAK, so glibc's loader only warns when the version is missing instead of refusing to load.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class WeakenGlibcxxVersionNeed : Task
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlagWeak = 0x2;

    private static readonly string[] SystemLibStdCxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
        "/usr/lib/libstdc++.so.6",
    };

    [Required]
    public ITaskItem[] LibraryPaths { get; set; } = Array.Empty<ITaskItem>();

    [Required]
    public string VersionName { get; set; } = string.Empty;

    public override bool Execute()
    {
        string? systemLibrary = FindSystemLibStdCxx();
        if (systemLibrary == null)
        {
            Log.LogMessage(MessageImportance.Low, "No system libstdc++ found; TorchSharp native library left as is.");
            return true;
        }

        if (ContainsAscii(File.ReadAllBytes(systemLibrary), VersionName + "\0"))
        {
            Log.LogMessage(MessageImportance.Low, $"{systemLibrary} provides {VersionName}; no change needed.");
            return true;
        }

        foreach (ITaskItem item in LibraryPaths)
        {
            string path = item.ItemSpec;
            try
            {
                byte[] image = File.ReadAllBytes(path);
                switch (MarkVersionNeedWeak(image, VersionName))
                {
                    case PatchResult.Patched:
                        // Write beside and move over: never leaves a half-written library, and breaks any hard link
                        // to the package cache instead of editing through it.
                        string temporary = path + ".weakening";
                        File.WriteAllBytes(temporary, image);
                        File.Delete(path);
                        File.Move(temporary, path);
                        Log.LogMessage(MessageImportance.Normal, $"Marked {VersionName} weak in {path}.");
                        break;
                    case PatchResult.AlreadyWeak:
                        Log.LogMessage(MessageImportance.Low, $"{VersionName} is already weak in {path}.");
                        break;
                    case PatchResult.NotNeeded:
                        Log.LogMessage(MessageImportance.Low, $"{path} does not need {VersionName}.");
                        break;
                }
            }
            catch (Exception e) when (e is IOException || e is InvalidDataException || e is UnauthorizedAccessException)
            {
                Log.LogError($"Could not adjust the TorchSharp native library '{path}': {e.Message}");
                return false;
            }
        }

        return true;
    }

    private enum PatchResult { Patched, AlreadyWeak, NotNeeded }

    private static string? FindSystemLibStdCxx()
    {
        foreach (string candidate in SystemLibStdCxxCandidates)
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static bool ContainsAscii(byte[] haystack, string needle)
    {
        byte[] pattern = Encoding.ASCII.GetBytes(needle);
        for (int i = 0; i + pattern.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < pattern.Length && haystack[i + j] == pattern[j])
            {
                j++;
            }

            if (j == pattern.Length)
            {
                return true;
            }
        }

        return false;
    }

    private static PatchResult MarkVersionNeedWeak(byte[] image, string versionName)
    {
        // ELF64 little-endian only: that is what every linux-x64 / linux-arm64 TorchSharp build is.
        if (image.Length < 64 || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' ||
            image[3] != (byte)'F' || image[4] != 2 || image[5] != 1)
        {
            throw new InvalidDataException("not a little-endian ELF64 file");
        }

        ulong sectionHeaderOffset = BitConverter.ToUInt64(image, 0x28);
        int sectionHeaderSize = BitConverter.ToUInt16(image, 0x3A);
        int sectionCount = BitConverter.ToUInt16(image, 0x3C);

        for (int s = 0; s < sectionCount; s++)
        {
            int header = checked((int)sectionHeaderOffset + s * sectionHeaderSize);
            if (BitConverter.ToUInt32(image, header + 4) != ShtGnuVerneed)
            {
                continue;
            }

            int verneedOffset = checked((int)BitConverter.ToUInt64(image, header + 0x18));
            int stringSectionIndex = (int)BitConverter.ToUInt32(image, header + 0x28);
            int verneedCount = (int)BitConverter.ToUInt32(image, header + 0x2C);
            int stringHeader = checked((int)sectionHeaderOffset + stringSectionIndex * sectionHeaderSize);
            int stringsOffset = checked((int)BitConverter.ToUInt64(image, stringHeader + 0x18));

            int entry = verneedOffset;
            for (int n = 0; n < verneedCount; n++)
            {
                int auxCount = BitConverter.ToUInt16(image, entry + 2);
                int aux = entry + (int)BitConverter.ToUInt32(image, entry + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    int nameOffset = stringsOffset + (int)BitConverter.ToUInt32(image, aux + 8);
                    if (ReadCString(image, nameOffset) == versionName)
                    {
                        ushort flags = BitConverter.ToUInt16(image, aux + 4);
                        if ((flags & VerFlagWeak) != 0)
                        {
                            return PatchResult.AlreadyWeak;
                        }

                        flags |= VerFlagWeak;
                        image[aux + 4] = (byte)(flags & 0xff);
                        image[aux + 5] = (byte)(flags >> 8);
                        return PatchResult.Patched;
                    }

                    aux += (int)BitConverter.ToUInt32(image, aux + 12);
                }

                entry += (int)BitConverter.ToUInt32(image, entry + 12);
            }
        }

        return PatchResult.NotNeeded;
    }

    private static string ReadCString(byte[] image, int offset)
    {
        int end = offset;
        while (end < image.Length && image[end] != 0)
        {
            end++;
        }

        return Encoding.ASCII.GetString(image, offset, end - offset);
    }
}
