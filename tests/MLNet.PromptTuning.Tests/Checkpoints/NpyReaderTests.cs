using System.IO.Compression;
using MLNet.PromptTuning.Checkpoints;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Checkpoints;

public sealed class NpyReaderTests
{
    [Fact]
    public void ReadsEverySupportedDescrWithItsValues()
    {
        var arrays = NpzReader.Read(CheckpointFixtures.Path("npy_dtypes.npz"));
        try
        {
            var expected = new Dictionary<string, (ScalarType Type, double[] Values)>
            {
                ["f4"] = (ScalarType.Float32, [0, 0.25, 0.5, 0.75, 1, 1.25]),
                ["f8"] = (ScalarType.Float64, [0, 0.125, 0.25, 0.375, 0.5, 0.625]),
                ["f2"] = (ScalarType.Float16, [0, 0.5, 1, 1.5, 2, 2.5]),
                ["i8"] = (ScalarType.Int64, [-3, -2, -1, 0, 1, 2]),
                ["i4"] = (ScalarType.Int32, [-2, -1, 0, 1, 2, 3]),
                ["u1"] = (ScalarType.Byte, [250, 251, 252, 253, 254, 255]),
                ["b1"] = (ScalarType.Bool, [1, 0, 1, 0, 1, 0]),
            };
            foreach (var (key, (type, values)) in expected)
            {
                var array = arrays[key];
                Assert.Equal(type, array.dtype);
                Assert.Equal(new long[] { 2, 3 }, array.shape);
                using var asDouble = array.to(ScalarType.Float64).reshape(-1);
                Assert.Equal(values, asDouble.data<double>().ToArray());
            }

            Assert.Empty(arrays["scalar"].shape);
            Assert.Equal(2.5f, arrays["scalar"].item<float>());
        }
        finally
        {
            CheckpointFixtures.DisposeAll(arrays.Values);
        }
    }

    [Theory]
    [InlineData("npy_fortran.npy")]
    [InlineData("npy_v2.npy")]
    [InlineData("npy_v3.npy")]
    public void FortranOrderAndHeaderVersionsGiveTheSameCOrderArray(string name)
    {
        using var array = CheckpointFixtures.Npy(name);
        using var expected = torch.arange(24, dtype: ScalarType.Float32).reshape(2, 3, 4);
        Assert.True(TinyModels.Same(expected, array));
        Assert.True(array.is_contiguous());
    }

    [Fact]
    public void BigEndianIsRefusedWithAConversionHint()
    {
        var error = Assert.Throws<NotSupportedException>(() => CheckpointFixtures.Npy("npy_bigendian.npy"));
        Assert.Contains("big-endian", error.Message);
        Assert.Contains("'>f4'", error.Message);
        Assert.Contains("newbyteorder", error.Message);
    }

    [Fact]
    public void TruncatedArrayIsRejectedBeforeAllocating()
    {
        var bytes = File.ReadAllBytes(CheckpointFixtures.Path("input.npy"));
        var error = Assert.Throws<InvalidDataException>(() => NpyReader.Read(new MemoryStream(bytes[..^4]), "cut.npy"));
        Assert.Contains("'cut.npy' is truncated", error.Message);
        Assert.Contains("needs 6144 bytes", error.Message);
    }

    [Fact]
    public void UnsupportedDescrNamesIt()
    {
        var header = "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }";
        var error = Assert.Throws<NotSupportedException>(() => NpyReader.Read(Npy(header, 16), "c.npy"));
        Assert.Contains("dtype '<c8', which is not supported", error.Message);
    }

    [Theory]
    [InlineData("{'descr': '<f4', 'shape': (2,), }", "lacks one of")]
    [InlineData("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", "unexpected 'Maybe'")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", "negative dimension")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", "absurd")]
    public void MalformedHeadersAreRejected(string header, string reason)
    {
        var error = Assert.Throws<InvalidDataException>(() => NpyReader.Read(Npy(header, 8), "bad.npy"));
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void StoredAndDeflatedArchivesReadIdentically()
    {
        using (var archive = ZipFile.OpenRead(CheckpointFixtures.Path("vit_jax.npz")))
        {
            Assert.All(archive.Entries, e => Assert.Equal(e.Length, e.CompressedLength));
        }

        using (var archive = ZipFile.OpenRead(CheckpointFixtures.Path("vit_jax_in21k_compressed.npz")))
        {
            Assert.Contains(archive.Entries, e => e.CompressedLength < e.Length);
        }

        var stored = NpzReader.Read(CheckpointFixtures.Path("vit_jax.npz"));
        var deflated = NpzReader.Read(CheckpointFixtures.Path("vit_jax_in21k_compressed.npz"));
        var key = "Transformer/encoderblock_1/MultiHeadDotProductAttention_1/query/kernel";
        Assert.Equal(new long[] { 16, 2, 8 }, stored[key].shape);
        Assert.True(TinyModels.Same(stored[key], deflated[key]));
        CheckpointFixtures.DisposeAll(stored.Values.Concat(deflated.Values));
    }

    private static MemoryStream Npy(string header, int dataBytes)
    {
        var text = header.PadRight(118) + "\n";
        var stream = new MemoryStream();
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        stream.Write(BitConverter.GetBytes((ushort)text.Length));
        stream.Write(System.Text.Encoding.ASCII.GetBytes(text));
        stream.Write(new byte[dataBytes]);
        stream.Position = 0;
        return stream;
    }
}
