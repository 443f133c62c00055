using System.IO.Compression;
using Microsoft.ML;
using MLNet.PromptTuning.Tests.Interop;
using MLNet.PromptTuning.Tests.TestSupport;
using Xunit;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// The model zip's own promises: <c>SaveAtomically</c> replaces the file whole and clears killed saves' temporaries,
/// and a load refuses weights that differ from the digests saved with them, and zip entries that fail their CRC.
/// </summary>
public sealed class ModelFileIntegrityTests : IDisposable
{
    private readonly TorchThreadScope _threads = new(TorchThreadScope.Fixed);
    private readonly string _folder = Directory.CreateTempSubdirectory("model-integrity-").FullName;

    public void Dispose()
    {
        Directory.Delete(_folder, recursive: true);
        _threads.Dispose();
    }

    [Fact]
    public void SaveAtomicallyReplacesTheFileAndRemovesADeadSavesTemporary()
    {
        var model = TinyPromptViTModel.Train();
        var path = Path.Combine(_folder, "model.zip");
        File.WriteAllText(path, "the previous model");
        // A temporary file named for a process id that cannot be running, as a killed save leaves it.
        var stale = Path.Combine(_folder, ".model.zip.2147483000.0123456789abcdef0123456789abcdef.tmp");
        File.WriteAllText(stale, "half a zip");

        model.Context.Model.SaveAtomically(model.Chain, model.InputSchema, path);

        Assert.False(File.Exists(stale));
        Assert.Equal(["model.zip"], Directory.GetFileSystemEntries(_folder).Select(Path.GetFileName));
        var loaded = new MLContext(seed: 1).Model.Load(path, out var schema, verifyIntegrity: true);
        Assert.Equal(model.InputSchema.Select(c => c.Name), schema.Select(c => c.Name));
        Assert.True(TinyModels.Same(model.PromptViT.Model.state_dict()["head.weight"],
            TinyPromptViTModel.Find(loaded).Model.state_dict()["head.weight"]));
    }

    [Theory]
    [InlineData("Backbone.safetensors", "backbone weights")]
    [InlineData("Trainable.safetensors", "prompt and head weights")]
    public void EditedWeightsWithAValidCrcAreRefusedUnlessVerificationIsOff(string entry, string named)
    {
        var model = TinyPromptViTModel.Train();
        var path = Path.Combine(_folder, "model.zip");
        File.WriteAllBytes(path, Repack(model.SaveToBytes(), entry, bytes => bytes[^4] ^= 1));

        var error = Assert.Throws<InvalidDataException>(() => new MLContext().Model.Load(path, out _, true));
        Assert.Contains(named, error.Message);
        // ML.NET's own Model.Load reaches the same check inside the PromptViT loader.
        var plain = Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(path, out _));
        Assert.Contains(named, Messages(plain));

        var loaded = new MLContext().Model.Load(path, out _, verifyIntegrity: false);
        Assert.NotNull(TinyPromptViTModel.Find(loaded));
    }

    [Fact]
    public void AnEntryThatFailsItsCrcIsRefusedNamingIt()
    {
        var model = TinyPromptViTModel.Train();
        var bytes = model.SaveToBytes();
        var path = Path.Combine(_folder, "model.zip");
        File.WriteAllBytes(path, bytes);
        string schemaEntry;
        long dataOffset;
        using (var zip = new ZipArchive(new MemoryStream(bytes), ZipArchiveMode.Read))
        {
            // One of ML.NET's own entries, which no digest of the library covers: only the CRC can tell.
            schemaEntry = zip.Entries.First(e => e.CompressedLength > 16 &&
                !e.FullName.EndsWith(".safetensors", StringComparison.Ordinal)).FullName;
        }

        // Flip one bit in the middle of that entry's stored data (its local header is followed by name and data).
        var nameBytes = System.Text.Encoding.UTF8.GetBytes(schemaEntry);
        dataOffset = bytes.AsSpan().IndexOf(nameBytes) + nameBytes.Length + 8;
        bytes[dataOffset] ^= 0x10;
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<InvalidDataException>(() => new MLContext().Model.Load(path, out _, true));
        Assert.Contains(schemaEntry, error.Message);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void FilesThatAreNotModelsGiveDocumentedErrors()
    {
        var missing = Path.Combine(_folder, "missing.zip");
        Assert.Throws<FileNotFoundException>(() => new MLContext().Model.Load(missing, out _, true));
        var text = Path.Combine(_folder, "text.zip");
        File.WriteAllText(text, "not a zip");
        var error = Assert.Throws<InvalidDataException>(() => new MLContext().Model.Load(text, out _, true));
        Assert.Contains(text, error.Message);
        // Unchecked, ML.NET's own failure is still wrapped in the documented type, naming the file.
        error = Assert.Throws<InvalidDataException>(() => new MLContext().Model.Load(text, out _, false));
        Assert.Contains(text, error.Message);
    }

    [Fact]
    public void ABFloat16ModelPassesItsOwnVerification()
    {
        using var fixture = Integration.PromptViTFixture.Create();
        var ml = new MLContext(seed: 1);
        var data = fixture.LoadRows(ml);
        var options = fixture.Options(epochs: 1);
        options.Precision = MLNet.PromptTuning.Training.TrainingPrecision.BFloat16;
        var chain = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadRawImageBytes("Image", fixture.Images.Folder, "Path"))
            .Append(ml.MulticlassClassification.Trainers.PromptViT(options))
            .Fit(data);
        var path = Path.Combine(_folder, "bf16.zip");
        ml.Model.SaveAtomically(chain, data.Schema, path);

        var loaded = new MLContext().Model.Load(path, out _, verifyIntegrity: true);
        Assert.Equal(TorchSharp.torch.ScalarType.BFloat16, TinyPromptViTModel.Find(loaded).Model.ComputePrecision);
    }

    private static string Messages(Exception e) =>
        e.InnerException is null ? e.Message : e.Message + " | " + Messages(e.InnerException);

    /// <summary>The zip with the entry whose name ends in <paramref name="suffix"/> changed (CRC recomputed).</summary>
    private static byte[] Repack(byte[] zip, string suffix, Action<byte[]> change) =>
        ZipRewrite.Rewrite(zip, (name, bytes) =>
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal))
            {
                change(bytes);
            }

            return bytes;
        });
}
