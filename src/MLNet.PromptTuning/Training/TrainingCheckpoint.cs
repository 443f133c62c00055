using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MLNet.PromptTuning.Runtime;
using TorchSharp;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// Everything needed to continue a run exactly where an epoch ended: trainable parameters, optimiser state, RNG
/// states, loop position, history and early-stopping state. One file, written to a temporary name and moved into
/// place, so a reader never sees half a checkpoint.
/// </summary>
/// <remarks>
/// Layout: 8-byte magic <c>MLNPTCKP</c>, int32 version, a length-prefixed UTF-8 JSON header, an int32 tensor count,
/// then per tensor: name, int32 dtype, int32 rank, int64 dims, int64 byte count and the raw little-endian bytes; since
/// version 2 a length-prefixed digest of the header and tensors ends the file (version 1 files are still read).
/// </remarks>
internal sealed class TrainingCheckpoint : IDisposable
{
    public const string FileName = "training-state.ckpt";
    private const int FirstVersion = 1;
    private const int Version = 2; // adds the trailing content digest
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

    /// <summary>
    /// Writes to <c>directory/training-state.ckpt</c> atomically (<see cref="AtomicFile"/>: temporary file, flush,
    /// rename), ending with a SHA-256 of the header and tensors so a damaged file is refused rather than resumed from.
    /// </summary>
    public void Write(string directory)
    {
        var headerJson = JsonSerializer.Serialize(Meta, JsonOptions);
        var digest = ContentDigest(headerJson, Tensors);
        AtomicFile.Write(PathIn(directory), stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            writer.Write(Magic);
            writer.Write(Version);
            writer.Write(headerJson);
            writer.Write(Tensors.Count);
            foreach (var (name, tensor) in Tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                WriteTensor(writer, name, tensor);
            }

            writer.Write(digest);
        });
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
        TrainingCheckpoint? checkpoint = null;
        try
        {
            var magic = reader.ReadBytes(Magic.Length);
            if (!magic.AsSpan().SequenceEqual(Magic))
            {
                throw new InvalidDataException($"'{path}' is not a training checkpoint (bad magic).");
            }

            var version = reader.ReadInt32();
            if (version != Version && version != FirstVersion)
            {
                throw new InvalidDataException(
                    $"'{path}' has checkpoint version {version}; this library reads versions {FirstVersion} and " +
                    $"{Version}.");
            }

            var headerJson = reader.ReadString();
            var header = JsonSerializer.Deserialize<Header>(headerJson, JsonOptions)
                ?? throw new InvalidDataException($"'{path}' has an empty header.");
            checkpoint = new TrainingCheckpoint { Meta = header };
            var count = reader.ReadInt32();
            if (count < 0 || count > stream.Length - stream.Position)
            {
                throw new InvalidDataException($"'{path}' declares {count} tensors.");
            }

            for (int i = 0; i < count; i++)
            {
                var (name, tensor) = ReadTensor(reader, path);
                if (!checkpoint.Tensors.TryAdd(name, tensor))
                {
                    tensor.Dispose();
                    throw new InvalidDataException($"'{path}' holds tensor '{name}' twice.");
                }
            }

            if (version == Version && reader.ReadString() != ContentDigest(headerJson, checkpoint.Tensors))
            {
                throw new InvalidDataException(
                    $"'{path}' is damaged: its content differs from the SHA-256 written with it.");
            }

            if (stream.Position != stream.Length)
            {
                throw new InvalidDataException(
                    $"'{path}' has {stream.Length - stream.Position} bytes after the checkpoint's end.");
            }

            return checkpoint;
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            checkpoint?.Dispose();
            throw new InvalidDataException($"'{path}' is truncated or corrupt ({e.Message}).", e);
        }
        catch
        {
            checkpoint?.Dispose();
            throw;
        }
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

    private static (string Name, torch.Tensor Tensor) ReadTensor(BinaryReader reader, string path)
    {
        var name = reader.ReadString();
        var dtype = (torch.ScalarType)reader.ReadInt32();
        if (!Enum.IsDefined(dtype) || dtype is torch.ScalarType.ComplexFloat32 or torch.ScalarType.ComplexFloat64)
        {
            throw new InvalidDataException($"'{path}': tensor '{name}' has an unknown dtype {(int)dtype}.");
        }

        var rank = reader.ReadInt32();
        if (rank < 0 || rank > 16)
        {
            throw new InvalidDataException($"'{path}': tensor '{name}' has an invalid rank {rank}.");
        }

        var shape = new long[rank];
        long elements = 1;
        for (int d = 0; d < rank; d++)
        {
            shape[d] = reader.ReadInt64();
            if (shape[d] < 0 || (shape[d] > 0 && elements > int.MaxValue / shape[d]))
            {
                throw new InvalidDataException(
                    $"'{path}': tensor '{name}' has an invalid shape (dimension {d} is {shape[d]}).");
            }

            elements *= shape[d];
        }

        // Check the declared size against the shape and the bytes the file really has before allocating anything.
        var byteCount = reader.ReadInt64();
        var remaining = reader.BaseStream.Length - reader.BaseStream.Position;
        if (byteCount != elements * ElementSize(dtype) || byteCount > remaining)
        {
            throw new InvalidDataException(
                $"'{path}': tensor '{name}' declares {byteCount} bytes for {dtype} shape " +
                $"[{string.Join(", ", shape)}] with {remaining} bytes left in the file.");
        }

        var tensor = torch.empty(shape, dtype).DetachFromDisposeScope();
        if (byteCount > 0)
        {
            tensor.bytes = reader.ReadBytes((int)byteCount);
        }

        return (name, tensor);
    }

    private static long ElementSize(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.Byte or torch.ScalarType.Int8 or torch.ScalarType.Bool => 1,
        torch.ScalarType.Int16 or torch.ScalarType.Float16 or torch.ScalarType.BFloat16 => 2,
        torch.ScalarType.Int32 or torch.ScalarType.Float32 => 4,
        torch.ScalarType.Int64 or torch.ScalarType.Float64 => 8,
        _ => throw new InvalidDataException($"Checkpoint tensors of dtype {dtype} are not supported."),
    };

    /// <summary>SHA-256 digests of the header text and of every tensor (<see cref="Sha256Digest"/>).</summary>
    private static string ContentDigest(string headerJson, Dictionary<string, torch.Tensor> tensors)
    {
        return $"{Sha256Digest.Of(Encoding.UTF8.GetBytes(headerJson))}|{Sha256Digest.Of(tensors)}";
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
