using System.IO.Compression;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>Recognises the container of a weights file from its first bytes and, for zip files, its entry
/// names.</summary>
internal static class CheckpointFileSniffer
{
    /// <summary>Classifies the file; throws <see cref="FileNotFoundException"/> when it does not exist.</summary>
    public static CheckpointFileKind Sniff(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Checkpoint file '{path}' does not exist.", path);
        }

        Span<byte> head = stackalloc byte[16];
        int read;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }

        head = head[..read];
        if (read >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] is 3 or 5 && head[3] is 4 or 6)
        {
            return SniffZip(path);
        }

        if (read >= 6 && head[0] == 0x93 && head[1..6].SequenceEqual("NUMPY"u8))
        {
            return CheckpointFileKind.Npy;
        }

        if (read >= 2 && head[0] == 0x80 && head[1] is >= 2 and <= 5)
        {
            return CheckpointFileKind.Pickle;
        }

        // safetensors: a u64 header length then '{'. Anything else falls to the reader's validation messages.
        if (read >= 9 && head[8] == (byte)'{')
        {
            return CheckpointFileKind.SafeTensors;
        }

        return CheckpointFileKind.Unknown;
    }

    private static CheckpointFileKind SniffZip(string path)
    {
        try
        {
            using var archive = ZipFile.OpenRead(path);
            var names = archive.Entries.Select(e => e.FullName).ToList();
            if (names.Any(n => n == "data.pkl" || n.EndsWith("/data.pkl", StringComparison.Ordinal)))
            {
                return CheckpointFileKind.TorchZip;
            }

            if (names.Any(n => n.EndsWith("constants.pkl", StringComparison.Ordinal) || n.Contains("/code/")))
            {
                return CheckpointFileKind.TorchScript;
            }

            return names.Count > 0 && names.All(n => n.EndsWith(".npy", StringComparison.Ordinal) || n.EndsWith('/'))
                ? CheckpointFileKind.Npz
                : CheckpointFileKind.OtherZip;
        }
        catch (InvalidDataException)
        {
            return CheckpointFileKind.Unknown;
        }
    }
}
