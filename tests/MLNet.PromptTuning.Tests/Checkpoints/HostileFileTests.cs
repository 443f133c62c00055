using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Tests.Reliability;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Checkpoints;

/// <summary>
/// One test per kind of hostile or damaged file a fuzz campaign found loaded, crashed or over-allocated on: each must
/// now fail with a documented exception that names the problem, before taking memory the file does not hold.
/// </summary>
public sealed class HostileFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("hostile-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void DeeplyNestedNpyShapeIsRefusedWithoutExhaustingTheStack()
    {
        // A version-2 header whose shape nests 200,000 levels deep crashed the process with a stack overflow.
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + new string('(', 200_000) +
                     new string(')', 200_000) + ", }";
        var bytes = NpyMutations.Assemble(header, []);
        var path = Write("deep.npy", bytes);

        var error = Assert.Throws<InvalidDataException>(() => NpyReader.Read(path));
        Assert.Contains("above 65536", error.Message); // the header alone is too long

        var shallow = NpyMutations.Assemble(
            "{'descr': '<f4', 'fortran_order': False, 'shape': " + new string('(', 500) + new string(')', 500) + ", }",
            []);
        error = Assert.Throws<InvalidDataException>(() => NpyReader.Read(Write("nested.npy", shallow)));
        Assert.Contains("nests deeper than 8 levels", error.Message);
    }

    [Fact]
    public void NpzEntryDeclaringTwoGigabytesFailsBeforeAllocating()
    {
        // A small archive whose .npy header claims a 2 GB array, with the zip's recorded size edited to match.
        var npy = NpyMutations.Assemble(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (536870912,), }", new byte[4096]);
        var path = Path.Combine(_directory, "huge.npz");
        WriteZip(path, ("cls.npy", npy), CompressionLevel.Optimal);
        var bytes = File.ReadAllBytes(path);
        SetRecordedSize(bytes, 2L << 30);
        File.WriteAllBytes(path, bytes);

        TensorBytes.ResetLargestAllocation();
        var error = Assert.Throws<InvalidDataException>(() => NpzReader.Read(path));
        Assert.Contains("cls.npy", error.Message);
        Assert.True(TensorBytes.LargestAllocation < 1 << 20, $"allocated {TensorBytes.LargestAllocation} bytes");
    }

    [Fact]
    public void DeflatedEntryShorterThanItsHeaderSaysTakesMemoryOnlyAsBytesArrive()
    {
        // The recorded size is honest, but the array declares 64 MB of which 1 MB arrives.
        var npy = NpyMutations.Assemble(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (16777216,), }", new byte[1 << 20]);
        var path = Path.Combine(_directory, "short.npz");
        WriteZip(path, ("a.npy", npy), CompressionLevel.Optimal);

        TensorBytes.ResetLargestAllocation();
        var error = Assert.Throws<InvalidDataException>(() => NpzReader.Read(path));
        Assert.Contains("truncated", error.Message);
        Assert.Equal(0, TensorBytes.LargestAllocation);
    }

    [Fact]
    public void NpzEntryWithACorruptedByteFailsItsCrc()
    {
        var bytes = File.ReadAllBytes(CheckpointFixtures.Path("vit_jax.npz"));
        var dataStart = 30 + BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(26)) +
                        BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(28));
        bytes[dataStart + 200] ^= 0x10; // inside the first array's float data
        var path = Write("flipped.npz", bytes);

        var error = Assert.Throws<InvalidDataException>(() => BackboneCheckpoint.Read(path));
        Assert.Contains("CRC-32", error.Message);
        Assert.Contains("embedding/kernel.npy", error.Message);
    }

    [Fact]
    public void SafeTensorsHeaderLengthTwoBytesShortIsRefused()
    {
        // The JSON padding keeps the shortened header valid; every tensor used to be read 2 bytes early.
        var bytes = File.ReadAllBytes(CheckpointFixtures.Path("vit_timm.safetensors"));
        var length = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal((byte)' ', bytes[8 + (int)length - 1]);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, length - 2);
        var path = Write("short-header.safetensors", bytes);

        var error = Assert.Throws<InvalidDataException>(() => SafeTensorsReader.Open(path).Dispose());
        Assert.Contains("header length", error.Message);
        Assert.Throws<InvalidDataException>(() => BackboneCheckpoint.Read(path));
    }

    [Fact]
    public void SafeTensorsHoleBetweenTensorsIsRefused()
    {
        var path = WriteSafeTensors(
            """
            {"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
             "b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}
            """,
            new byte[12]);
        var error = Assert.Throws<InvalidDataException>(() => SafeTensorsReader.Open(path).Dispose());
        Assert.Contains("hole of 4 bytes before tensor 'b'", error.Message);
    }

    [Fact]
    public void SafeTensorsInvalidUtf8KeyIsInvalidData()
    {
        var header = Encoding.UTF8.GetBytes("""{"a?":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""");
        header[3] = 0xFF;
        var path = WriteSafeTensors(header, new byte[4]);
        var error = Assert.Throws<InvalidDataException>(() => SafeTensorsReader.Open(path).Dispose());
        Assert.Contains("not valid UTF-8", error.Message);
    }

    [Fact]
    public void NonFiniteWeightsAreRefusedNamingTheTensorUnlessAllowed()
    {
        var path = RewriteFixture("vit_timm.safetensors", "blocks.1.mlp.fc2.bias",
            t => t.index_put_(torch.tensor(float.NaN), torch.tensor(3L)));

        var error = Assert.Throws<InvalidDataException>(() => BackboneCheckpoint.Read(path));
        Assert.Contains("'blocks.1.mlp.fc2.bias'", error.Message);
        Assert.Contains("1 NaN", error.Message);
        Assert.Contains("AllowNonFiniteWeights", error.Message);

        var allow = new CheckpointLoadOptions { AllowNonFiniteWeights = true };
        using var checkpoint = BackboneCheckpoint.Read(path, options: allow);
        Assert.True(checkpoint.Tensors["blocks.1.mlp.fc2.bias"][3].isnan().item<bool>());
    }

    [Fact]
    public void IntegerTensorForAFloatParameterIsAMismatch()
    {
        var path = RewriteFixture("vit_timm.safetensors", "blocks.0.norm1.bias", t => t.to(ScalarType.Int32));
        using var backbone = new VisionTransformer(CheckpointFixtures.Config());
        var before = backbone.state_dict()["blocks.0.norm1.bias"].clone();

        var error = Assert.Throws<CheckpointMismatchException>(() => BackboneCheckpoint.Load(backbone, path));
        Assert.Equal(["blocks.0.norm1.bias (Int32)"], error.NonFloatingKeys);
        Assert.Contains("integer tensors for floating-point parameters", error.Message);
        Assert.True(before.equal(backbone.state_dict()["blocks.0.norm1.bias"]).all().item<bool>());
    }

    [Fact]
    public void RandomBytesSayTheyAreNoWeightsFileFirst()
    {
        var bytes = new byte[4096];
        new Random(5).NextBytes(bytes);
        bytes[8] = (byte)'x';
        var path = Write("random.bin", bytes);

        var error = Assert.Throws<InvalidDataException>(() => BackboneCheckpoint.ReadConfig(path));
        Assert.StartsWith($"'{path}' is not a recognised weights file", error.Message);
        Assert.DoesNotContain("vit_config", error.Message);
        Assert.False(MissingArchitecture.Is(error)); // the trainer must not ask for a BackboneConfig instead
        error = Assert.Throws<InvalidDataException>(() => BackboneCheckpoint.Read(path));
        Assert.StartsWith($"'{path}' is not a recognised weights file", error.Message);

        // A readable file that only lacks the architecture is the case where a BackboneConfig is the answer.
        error = Assert.Throws<InvalidDataException>(
            () => BackboneCheckpoint.ReadConfig(CheckpointFixtures.Path("vit_timm.safetensors")));
        Assert.True(MissingArchitecture.Is(error));
        error = Assert.Throws<InvalidDataException>(
            () => BackboneCheckpoint.ReadConfig(CheckpointFixtures.Path("vit_jax.npz")));
        Assert.True(MissingArchitecture.Is(error));
    }

    [Fact]
    public void OnlyDocumentedExceptionTypesLeaveTheReaders()
    {
        // A header that parses but whose Hugging Face q/k/v cannot be concatenated used to surface libtorch's error.
        var path = Path.Combine(_directory, "hf.safetensors");
        var tensors = new Dictionary<string, Tensor>
        {
            ["vit.embeddings.cls_token"] = torch.zeros(1, 1, 16),
            ["vit.encoder.layer.0.attention.attention.query.weight"] = torch.zeros(16, 16),
            ["vit.encoder.layer.0.attention.attention.key.weight"] = torch.zeros(16, 15),
            ["vit.encoder.layer.0.attention.attention.value.weight"] = torch.zeros(16, 16),
        };
        SafeTensorsWriter.Write(path, tensors);
        CheckpointFixtures.DisposeAll(tensors.Values);

        var error = Assert.Throws<InvalidDataException>(() => BackboneCheckpoint.Read(path));
        Assert.Contains(path, error.Message);
    }

    private string RewriteFixture(string fixture, string key, Func<Tensor, Tensor> change)
    {
        var tensors = SafeTensorsReader.ReadFile(CheckpointFixtures.Path(fixture));
        tensors[key] = change(tensors[key]);
        var path = Path.Combine(_directory, $"{Guid.NewGuid():N}.safetensors");
        SafeTensorsWriter.Write(path, tensors);
        CheckpointFixtures.DisposeAll(tensors.Values);
        return path;
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string WriteSafeTensors(string header, byte[] data) =>
        WriteSafeTensors(Encoding.UTF8.GetBytes(header), data);

    private string WriteSafeTensors(byte[] header, byte[] data)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return Write($"{Guid.NewGuid():N}.safetensors", bytes);
    }

    private static void WriteZip(string path, (string Name, byte[] Bytes) entry, CompressionLevel level)
    {
        using var archive = ZipFile.Open(path, ZipArchiveMode.Create);
        using var stream = archive.CreateEntry(entry.Name, level).Open();
        stream.Write(entry.Bytes);
    }

    /// <summary>Sets the uncompressed size in the single entry's local header and central directory record.</summary>
    private static void SetRecordedSize(byte[] zip, long size)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(zip.AsSpan(22), (uint)size);
        var central = zip.AsSpan().LastIndexOf("PK\x01\x02"u8);
        BinaryPrimitives.WriteUInt32LittleEndian(zip.AsSpan(central + 24), (uint)size);
    }
}
