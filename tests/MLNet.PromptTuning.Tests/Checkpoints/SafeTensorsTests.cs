using System.Text;
using MLNet.PromptTuning.Checkpoints;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Checkpoints;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("st-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void ReadsPythonWrittenFileWithMetadataShapesAndValues()
    {
        using var reader = SafeTensorsReader.Open(CheckpointFixtures.Path("vit_timm.safetensors"));
        Assert.Equal("pt", reader.Metadata["format"]);
        Assert.Equal(2 * 12 + 8, reader.Tensors.Count);
        var qkv = reader.GetInfo("blocks.1.attn.qkv.weight");
        Assert.Equal("F32", qkv.DType);
        Assert.Equal(new long[] { 48, 16 }, qkv.Shape);
        using var pos = reader.ReadTensor("pos_embed");
        Assert.Equal(new long[] { 1, 17, 16 }, pos.shape);
        Assert.Equal(ScalarType.Float32, pos.dtype);
        Assert.True(pos.abs().max().item<float>() > 0.1f);
    }

    [Fact]
    public void RoundTripIsBitIdenticalForEveryDtype()
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = torch.randn(3, 4),
            ["f16"] = torch.randn(5).to(ScalarType.Float16),
            ["bf16"] = torch.randn(2, 3).to(ScalarType.BFloat16),
            ["f64"] = torch.randn(7, dtype: ScalarType.Float64),
            ["i64"] = torch.arange(-3, 6, dtype: ScalarType.Int64),
            ["i32"] = torch.arange(-2, 3, dtype: ScalarType.Int32).reshape(1, 5),
            ["i16"] = torch.arange(0, 3, dtype: ScalarType.Int16),
            ["i8"] = torch.arange(-4, 0, dtype: ScalarType.Int8),
            ["u8"] = torch.arange(250, 256, dtype: ScalarType.Int32).to(ScalarType.Byte),
            ["bool"] = torch.tensor(new[] { true, false, true }),
            ["scalar"] = torch.tensor(2.5f),
            ["empty"] = torch.zeros(0, 3),
            ["a+b<c>"] = torch.ones(1),
        };
        var path = System.IO.Path.Combine(_directory, "all.safetensors");
        SafeTensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "é" });

        using (var reader = SafeTensorsReader.Open(path))
        {
            Assert.Equal("é", reader.Metadata["note"]);
            foreach (var (name, original) in tensors)
            {
                using var read = reader.ReadTensor(name);
                Assert.Equal(original.dtype, read.dtype);
                Assert.Equal(original.shape, read.shape);
                Assert.Equal(original.bytes.ToArray(), read.bytes.ToArray());
            }

            // Largest elements first keeps every tensor aligned to its element size.
            foreach (var info in reader.Tensors)
            {
                using var t = reader.ReadTensor(info.Name);
                Assert.Equal(0, info.DataBegin % t.ElementSize);
            }
        }

        var bytes = File.ReadAllBytes(path);
        var headerLength = BitConverter.ToInt64(bytes, 0);
        Assert.Equal(0, headerLength % 8);

        // Deterministic: writing again gives the same bytes, and no temporary file is left behind.
        SafeTensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "é" });
        Assert.Equal(bytes, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(_directory));
        CheckpointFixtures.DisposeAll(tensors.Values);
    }

    [Fact]
    public void RewritingAPythonFileKeepsEveryTensor()
    {
        var original = SafeTensorsReader.ReadFile(CheckpointFixtures.Path("vit_timm_mixed_dtypes.safetensors"));
        var path = System.IO.Path.Combine(_directory, "copy.safetensors");
        SafeTensorsWriter.Write(path, original);
        var copy = SafeTensorsReader.ReadFile(path);
        Assert.Equal(original.Keys.Order(), copy.Keys.Order());
        Assert.Contains(original.Values, t => t.dtype == ScalarType.BFloat16);
        Assert.Contains(original.Values, t => t.dtype == ScalarType.Float16);
        Assert.Contains(original.Values, t => t.dtype == ScalarType.Float64);
        foreach (var (name, tensor) in original)
        {
            Assert.Equal(tensor.dtype, copy[name].dtype);
            Assert.Equal(tensor.bytes.ToArray(), copy[name].bytes.ToArray());
        }

        CheckpointFixtures.DisposeAll(original.Values.Concat(copy.Values));
    }

    [Fact]
    public void FileShorterThanTheLengthPrefixIsRejected()
    {
        var error = Assert.Throws<InvalidDataException>(() => Open(new byte[] { 1, 2, 3 }));
        Assert.Contains("3 bytes, shorter than the 8-byte header length", error.Message);
    }

    [Fact]
    public void HeaderLengthBeyondTheFileIsRejected()
    {
        var bytes = Build("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), (ulong)(bytes.Length + 100));
        var error = Assert.Throws<InvalidDataException>(() => Open(bytes));
        Assert.Contains("runs past the end of the file", error.Message);
    }

    [Fact]
    public void HeaderLengthAbove100MegabytesIsRejectedBeforeAllocating()
    {
        var bytes = new byte[16];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), 100_000_001UL);
        var error = Assert.Throws<InvalidDataException>(() => Open(bytes));
        Assert.Contains("above the 100000000-byte limit", error.Message);
    }

    [Fact]
    public void TruncatedDataIsRejectedNamingTheTensor()
    {
        var full = File.ReadAllBytes(CheckpointFixtures.Path("vit_timm.safetensors"));
        var error = Assert.Throws<InvalidDataException>(() => Open(full[..^10]));
        Assert.Contains("beyond the data buffer", error.Message);
        Assert.Contains("truncated", error.Message);
    }

    [Theory]
    [InlineData("[1, 2]", "does not start with '{'")]
    [InlineData("{}  \"x\"", "not valid JSON")]
    [InlineData("{\"a\": ", "not valid JSON")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "invalid shape [-1]")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}",
        "absurd shape")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", "invalid shape")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "needs 8 bytes")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", "end before begin")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", "no 'data_offsets' pair")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", "beyond the data buffer")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}," +
                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", "overlap")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}," +
                "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "appears twice")]
    [InlineData("{\"__metadata__\":{\"format\":1}}", "__metadata__ entry 'format' is not a string")]
    [InlineData("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "no string 'dtype'")]
    public void MalformedHeadersAreRejectedWithTheReason(string header, string reason)
    {
        var error = Assert.Throws<InvalidDataException>(() => Open(Build(header, 8)));
        Assert.Contains("is not a valid safetensors file", error.Message);
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void DtypeOfTheFormatThatCannotBeReadNamesTensorAndDtype()
    {
        var bytes = Build("{\"ok\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}," +
                          "\"fp8\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[4,8]}}", 8);
        using var reader = SafeTensorsReader.Open(new MemoryStream(bytes), "fp8.safetensors");
        using var ok = reader.ReadTensor("ok");
        var error = Assert.Throws<NotSupportedException>(() => reader.ReadTensor("fp8"));
        Assert.Contains("Tensor 'fp8'", error.Message);
        Assert.Contains("dtype F8_E4M3, which is not supported", error.Message);
    }

    [Fact]
    public void DtypeUnknownToTheFormatIsRejectedOnOpenNamingTheTensor()
    {
        var bytes = Build("{\"z\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8);
        var error = Assert.Throws<NotSupportedException>(() => Open(bytes));
        Assert.Contains("Tensor 'z'", error.Message);
        Assert.Contains("dtype C64, which is not supported", error.Message);
    }

    [Fact]
    public void ScalarAndPaddedHeaderAreRead()
    {
        var bytes = Build("{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}      ", 4);
        BitConverter.TryWriteBytes(bytes.AsSpan(bytes.Length - 4), 3.5f);
        using var reader = SafeTensorsReader.Open(new MemoryStream(bytes));
        using var s = reader.ReadTensor("s");
        Assert.Empty(s.shape);
        Assert.Equal(3.5f, s.item<float>());
    }

    private static SafeTensorsReader Open(byte[] bytes)
    {
        var reader = SafeTensorsReader.Open(new MemoryStream(bytes), "bad.safetensors");
        reader.Dispose();
        return reader;
    }

    /// <summary>A file with the given header text and <paramref name="dataBytes"/> zero bytes of data.</summary>
    private static byte[] Build(string header, int dataBytes)
    {
        var text = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + text.Length + dataBytes];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), (ulong)text.Length);
        text.CopyTo(bytes, 8);
        return bytes;
    }
}
