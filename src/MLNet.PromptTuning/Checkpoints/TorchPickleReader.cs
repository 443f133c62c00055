using System.Collections;
using System.IO.Compression;
using System.Reflection;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Reads the tensors of a <c>torch.save</c> zip checkpoint, for
/// <see cref="CheckpointLoadOptions.AllowPyTorchPickles"/>. The archive's entries are CRC-checked and <c>data.pkl</c>
/// is checked opcode by opcode (<see cref="TorchPickleScanner"/>) before TorchSharp.PyBridge unpickles it into tensor
/// descriptors; the tensors are then read here from their storage entries, after their shape, strides and offset have
/// been checked against the storage's size. Views that share a storage (at any offset) are read correctly.
/// </summary>
internal static class TorchPickleReader
{
    /// <summary>The largest <c>data.pkl</c> accepted: a state dict's pickle is about 100 bytes per tensor.</summary>
    public const long MaxPickleBytes = 64L << 20;

    /// <summary>The checkpoint's tensors, unwrapped from <c>{"model": ...}</c> or <c>{"state_dict": ...}</c>.</summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        var archiveLength = new FileInfo(path).Length;
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        using var archive = new ZipArchive(file, ZipArchiveMode.Read, leaveOpen: true);
        var pickleEntry = archive.Entries.SingleOrDefault(
                e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) || e.FullName == "data.pkl")
            ?? throw new InvalidDataException($"'{path}' has no single data.pkl entry; it is not a torch.save file.");
        RequireUniqueNames(archive, path);
        CheckPickle(pickleEntry, archiveLength, path);

        file.Seek(0, SeekOrigin.Begin);
        var root = PyTorchUnpickler.UnpickleStateDict(file, leaveOpen: true, skipTensorRead: true);
        var stateDict = Unwrap(root, path);
        var storages = new Dictionary<int, Tensor>();
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            using var scope = torch.NewDisposeScope();
            foreach (DictionaryEntry item in stateDict)
            {
                if (item.Key is not string key || !TensorDescriptor.TryFrom(item.Value, out var descriptor))
                {
                    continue; // Not a tensor: tensors only are read.
                }

                var storage = storages.TryGetValue(descriptor.ArchiveIndex, out var known)
                    ? known
                    : storages[descriptor.ArchiveIndex] = ReadStorage(archive, archiveLength, descriptor, key, path);
                result[key] = View(storage, descriptor, key, path).DetachFromDisposeScope();
            }

            return result;
        }
        catch
        {
            foreach (var tensor in result.Values)
            {
                tensor.Dispose();
            }

            throw;
        }
        finally
        {
            foreach (var descriptor in stateDict.Values)
            {
                TensorDescriptor.DisposeStream(descriptor);
            }
        }
    }

    private static void RequireUniqueNames(ZipArchive archive, string path)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in archive.Entries)
        {
            if (!names.Add(entry.FullName))
            {
                throw new InvalidDataException($"'{path}' has two entries named '{entry.FullName}'.");
            }
        }
    }

    private static void CheckPickle(ZipArchiveEntry entry, long archiveLength, string path)
    {
        if (entry.Length > MaxPickleBytes)
        {
            throw new InvalidDataException(
                $"'{path}:{entry.FullName}' records {entry.Length} bytes; a state dict's pickle is far smaller " +
                $"(at most {MaxPickleBytes} accepted).");
        }

        using var stream = ZipEntryReadStream.Open(entry, archiveLength, $"{path}:{entry.FullName}");
        var pickle = new byte[entry.Length];
        try
        {
            stream.ReadExactly(pickle);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"'{path}:{entry.FullName}' is shorter than the archive records.");
        }

        stream.VerifyComplete("the pickle");
        TorchPickleScanner.Check(pickle, path);
    }

    private static IDictionary Unwrap(Hashtable root, string path)
    {
        foreach (var wrapper in new[] { "model", "state_dict" })
        {
            if (root[wrapper] is IDictionary inner)
            {
                return inner;
            }
        }

        if (root.Values.Cast<object?>().Any(TensorDescriptor.IsDescriptor))
        {
            return root;
        }

        throw new InvalidDataException(
            $"'{path}' holds a dictionary with no tensors and no 'model' or 'state_dict' entry (keys: " +
            $"{string.Join(", ", root.Keys.Cast<object>().Select(k => $"{k}").Take(8))}).");
    }

    private static Tensor ReadStorage(
        ZipArchive archive, long archiveLength, TensorDescriptor descriptor, string key, string path)
    {
        if (descriptor.ArchiveIndex < 0 || descriptor.ArchiveIndex >= archive.Entries.Count)
        {
            throw new InvalidDataException(
                $"Tensor '{key}' of '{path}' refers to a storage entry that does not exist.");
        }

        var entry = archive.Entries[descriptor.ArchiveIndex];
        var source = $"{path}:{entry.FullName}";
        var elementSize = ElementSize(descriptor.DType, key, path);
        if (entry.Length % elementSize != 0)
        {
            throw new InvalidDataException(
                $"'{source}' holds {entry.Length} bytes, not a whole number of {descriptor.DType} elements.");
        }

        using var stream = ZipEntryReadStream.Open(entry, archiveLength, source);
        long[] shape = [entry.Length / elementSize];
        var storage = entry.Length <= entry.CompressedLength
            ? TensorBytes.ReadNew(stream, shape, descriptor.DType, key, source)
            : TensorBytes.ReadNewGrowing(stream, shape, descriptor.DType, entry.Length, key, source);
        try
        {
            stream.VerifyComplete("the storage");
            return storage;
        }
        catch
        {
            storage.Dispose();
            throw;
        }
    }

    /// <summary>The tensor a descriptor describes, as a contiguous copy, once it is known to fit its storage.</summary>
    private static Tensor View(Tensor storage, TensorDescriptor descriptor, string key, string path)
    {
        var shape = descriptor.Shape;
        var stride = descriptor.Stride;
        if (shape.Length != stride.Length || shape.Length > 64 || shape.Any(d => d < 0) || stride.Any(s => s < 0) ||
            descriptor.StorageOffset < 0)
        {
            throw new InvalidDataException(
                $"Tensor '{key}' of '{path}' has an invalid layout: shape [{string.Join(", ", shape)}], stride " +
                $"[{string.Join(", ", stride)}], offset {descriptor.StorageOffset}.");
        }

        // The last element a view touches must lie inside its storage; computed in 128 bits against overflow.
        Int128 last = descriptor.StorageOffset;
        var empty = shape.Any(d => d == 0);
        for (var i = 0; i < shape.Length && !empty; i++)
        {
            last += (Int128)(shape[i] - 1) * stride[i];
        }

        var available = storage.shape[0];
        if (!empty && last >= available)
        {
            throw new InvalidDataException(
                $"Tensor '{key}' of '{path}' (shape [{string.Join(", ", shape)}], stride " +
                $"[{string.Join(", ", stride)}], offset {descriptor.StorageOffset}) reaches element {last} of a " +
                $"{available}-element storage.");
        }

        return empty
            ? torch.empty(shape, storage.dtype)
            : storage.as_strided(shape, stride, descriptor.StorageOffset).contiguous().clone();
    }

    private static long ElementSize(ScalarType type, string key, string path) => type switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool => 1,
        _ => throw new NotSupportedException($"Tensor '{key}' of '{path}' has dtype {type}, which is not supported."),
    };

    /// <summary>
    /// The storage descriptor PyBridge returns for each tensor when asked not to read them (an internal type of
    /// PyBridge 1.4.4, read by name: the pinned version is what the tests run against).
    /// </summary>
    private readonly record struct TensorDescriptor(
        int ArchiveIndex, ScalarType DType, long StorageOffset, long[] Shape, long[] Stride)
    {
        private const string TypeName = "TensorConstructorArgs";

        public static bool IsDescriptor(object? value) => value?.GetType().Name == TypeName;

        public static bool TryFrom(object? value, out TensorDescriptor descriptor)
        {
            descriptor = default;
            if (!IsDescriptor(value))
            {
                return false;
            }

            descriptor = new TensorDescriptor(
                Get<int>(value!, nameof(ArchiveIndex)),
                Get<ScalarType>(value!, nameof(DType)),
                Get<int>(value!, nameof(StorageOffset)),
                Get<long[]>(value!, nameof(Shape)),
                Get<long[]>(value!, nameof(Stride)));
            return true;
        }

        /// <summary>PyBridge opens each storage entry for its descriptor; those streams are not used here.</summary>
        public static void DisposeStream(object? value)
        {
            if (IsDescriptor(value) && value!.GetType().GetProperty("Data")?.GetValue(value) is Stream stream)
            {
                stream.Dispose();
            }
        }

        private static T Get<T>(object value, string name) =>
            value.GetType().GetProperty(name, BindingFlags.Public | BindingFlags.Instance)?.GetValue(value) is T typed
                ? typed
                : throw new InvalidOperationException(
                    $"TorchSharp.PyBridge's {TypeName} has no {typeof(T).Name} property '{name}'; this library " +
                    "was built against TorchSharp.PyBridge 1.4.4.");
    }
}
