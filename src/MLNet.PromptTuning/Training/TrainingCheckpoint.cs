using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// Everything needed to continue a run exactly where an epoch ended: trainable parameters, optimiser state, RNG
/// states, loop position, history and early-stopping state. One file, written to a temporary name and moved into
/// place, so a reader never sees half a checkpoint.
/// </summary>
/// <remarks>
/// Layout: 8-byte magic <c>MLNPTCKP</c>, int32 version, a length-prefixed UTF-8 JSON header, an int32 tensor count,
/// then per tensor: name, int32 dtype, int32 rank, int64 dims, int64 byte count and the raw little-endian bytes.
/// </remarks>
internal sealed class TrainingCheckpoint : IDisposable
{
    public const string FileName = "training-state.ckpt";
    private const int Version = 1;
    private static readonly byte[] Magic = Encoding.ASCII.GetBytes("MLNPTCKP");

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = false,
    };

    public Header Meta { get; init; } = new();

    /// <summary>Named CPU tensors, owned by the checkpoint.</summary>
    public Dictionary<string, torch.Tensor> Tensors { get; } = new(StringComparer.Ordinal);

    public static string PathIn(string directory) => Path.Combine(directory, FileName);

    /// <summary>Writes to <c>directory/training-state.ckpt</c> atomically (temporary file, then move).</summary>
    public void Write(string directory)
    {
        Directory.CreateDirectory(directory);
        var target = PathIn(directory);
        var temp = Path.Combine(directory, $"{FileName}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(Magic);
                writer.Write(Version);
                writer.Write(JsonSerializer.Serialize(Meta, JsonOptions));
                writer.Write(Tensors.Count);
                foreach (var (name, tensor) in Tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    WriteTensor(writer, name, tensor);
                }

                writer.Flush();
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, target, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Reads the checkpoint in <paramref name="directory"/>, or returns null when there is none.</summary>
    /// <exception cref="InvalidDataException">The file exists but is not a readable checkpoint of this
    /// version.</exception>
    public static TrainingCheckpoint? TryRead(string directory)
    {
        var path = PathIn(directory);
        if (!File.Exists(path))
        {
            return null;
        }

        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream, Encoding.UTF8);
        var magic = reader.ReadBytes(Magic.Length);
        if (!magic.AsSpan().SequenceEqual(Magic))
        {
            throw new InvalidDataException($"'{path}' is not a training checkpoint (bad magic).");
        }

        var version = reader.ReadInt32();
        if (version != Version)
        {
            throw new InvalidDataException(
                $"'{path}' has checkpoint version {version}; this library reads version {Version}.");
        }

        var header = JsonSerializer.Deserialize<Header>(reader.ReadString(), JsonOptions)
            ?? throw new InvalidDataException($"'{path}' has an empty header.");
        var checkpoint = new TrainingCheckpoint { Meta = header };
        try
        {
            var count = reader.ReadInt32();
            for (int i = 0; i < count; i++)
            {
                var (name, tensor) = ReadTensor(reader);
                checkpoint.Tensors[name] = tensor;
            }
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentException)
        {
            checkpoint.Dispose();
            throw new InvalidDataException($"'{path}' is truncated or corrupt.", e);
        }

        return checkpoint;
    }

    public void Dispose()
    {
        foreach (var tensor in Tensors.Values)
        {
            tensor.Dispose();
        }

        Tensors.Clear();
    }

    private static void WriteTensor(BinaryWriter writer, string name, torch.Tensor tensor)
    {
        using var scope = torch.NewDisposeScope();
        var cpu = tensor.detach().cpu().contiguous();
        writer.Write(name);
        writer.Write((int)cpu.dtype);
        writer.Write((int)cpu.dim());
        foreach (var d in cpu.shape)
        {
            writer.Write(d);
        }

        long byteCount = cpu.numel() * cpu.ElementSize;
        if (byteCount > int.MaxValue)
        {
            throw new NotSupportedException(
                $"Tensor '{name}' has {byteCount} bytes; checkpoints hold tensors up to 2 GB.");
        }

        writer.Write(byteCount);
        if (byteCount > 0)
        {
            writer.Write(cpu.bytes);
        }
    }

    private static (string Name, torch.Tensor Tensor) ReadTensor(BinaryReader reader)
    {
        var name = reader.ReadString();
        var dtype = (torch.ScalarType)reader.ReadInt32();
        var rank = reader.ReadInt32();
        if (rank < 0 || rank > 16)
        {
            throw new InvalidDataException($"Tensor '{name}' has an invalid rank {rank}.");
        }

        var shape = new long[rank];
        for (int d = 0; d < rank; d++)
        {
            shape[d] = reader.ReadInt64();
        }

        var byteCount = reader.ReadInt64();
        var tensor = torch.empty(shape, dtype).DetachFromDisposeScope();
        if (byteCount != tensor.numel() * tensor.ElementSize)
        {
            tensor.Dispose();
            throw new InvalidDataException(
                $"Tensor '{name}' declares {byteCount} bytes for shape [{string.Join(", ", shape)}].");
        }

        if (byteCount > 0)
        {
            var data = reader.ReadBytes((int)byteCount);
            if (data.Length != byteCount)
            {
                tensor.Dispose();
                throw new EndOfStreamException();
            }

            tensor.bytes = data;
        }

        return (name, tensor);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>The JSON part of a checkpoint.</summary>
    internal sealed class Header
    {
        /// <summary>Settings and data shape the run must match to resume (option name → invariant string).</summary>
        public Dictionary<string, string> Fingerprint { get; set; } = new(StringComparer.Ordinal);

        public int EpochsCompleted { get; set; }

        public List<EpochSummary> History { get; set; } = new();

        public int BestEpoch { get; set; }

        public double? BestAccuracy { get; set; }

        public int EpochsWithoutImprovement { get; set; }

        public bool Stopped { get; set; }

        public long[] OptimizerSteps { get; set; } = Array.Empty<long>();

        /// <summary>Checkpoint tensor names of the trainable parameters, in group order.</summary>
        public List<string> ParameterNames { get; set; } = new();
    }
}
