using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;

namespace MLNet.PromptTuning.Persistence;

/// <summary>Reads the architecture that <see cref="BackboneCheckpoint.Save"/> records in a safetensors file's metadata.</summary>
internal static class StoredBackboneConfig
{
    /// <summary>The recorded <see cref="VitConfig"/>, or null when the file is not a safetensors file that has one.</summary>
    public static VitConfig? TryRead(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[8];
        if (stream.Read(magic) < 8)
        {
            return null;
        }

        stream.Position = 0;
        try
        {
            using var reader = SafeTensorsReader.Open(stream, path, leaveOpen: true);
            return reader.Metadata.TryGetValue("vit_config", out var json) ? ModelJson.DeserializeConfig(json) : null;
        }
        catch (InvalidDataException)
        {
            return null; // not safetensors (an .npz, for example): the caller asks for the architecture
        }
    }
}
