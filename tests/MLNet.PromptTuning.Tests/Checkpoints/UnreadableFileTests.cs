using MLNet.PromptTuning.Checkpoints;
using Xunit;

namespace MLNet.PromptTuning.Tests.Checkpoints;

/// <summary>What BackboneCheckpoint.Read does with files it must not or cannot read.</summary>
public sealed class UnreadableFileTests
{
    [Theory]
    [InlineData("refuse_zip.pth", "torch.save checkpoint (zip with data.pkl)")]
    [InlineData("refuse_legacy.pth.tar", "Python pickle (legacy torch.save format)")]
    public void TorchSaveFilesAreRefusedWithTheConversionRecipe(string file, string kind)
    {
        var error = Assert.Throws<NotSupportedException>(() => BackboneCheckpoint.Read(CheckpointFixtures.Path(file)));
        Assert.Contains(kind, error.Message);
        Assert.Contains("never unpickles", error.Message);
        Assert.Contains("arbitrary code", error.Message);
        Assert.Contains("torch.load('model.pth', map_location='cpu', weights_only=True)", error.Message);
        Assert.Contains("sd.get('model', sd.get('state_dict', sd))", error.Message);
        Assert.Contains("safetensors.torch.save_file(", error.Message);
    }

    [Fact]
    public void ExtensionDoesNotMatterOnlyContent()
    {
        var copy = Path.Combine(Path.GetTempPath(), $"disguised-{Guid.NewGuid():N}.safetensors");
        File.Copy(CheckpointFixtures.Path("refuse_zip.pth"), copy);
        try
        {
            Assert.Throws<NotSupportedException>(() => BackboneCheckpoint.Read(copy));
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [Fact]
    public void TruncatedCheckpointFileIsInvalidData()
    {
        var copy = Path.Combine(Path.GetTempPath(), $"cut-{Guid.NewGuid():N}.safetensors");
        var bytes = File.ReadAllBytes(CheckpointFixtures.Path("vit_timm.safetensors"));
        File.WriteAllBytes(copy, bytes[..(bytes.Length / 2)]);
        try
        {
            var error = Assert.Throws<InvalidDataException>(() => BackboneCheckpoint.Read(copy));
            Assert.Contains("beyond the data buffer", error.Message);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [Fact]
    public void UnrecognisedLayoutFileListsKeysSeen()
    {
        var path = Path.Combine(Path.GetTempPath(), $"resnet-{Guid.NewGuid():N}.safetensors");
        using (var conv = TorchSharp.torch.zeros(4, 3, 3, 3))
        using (var fc = TorchSharp.torch.zeros(10, 4))
        {
            SafeTensorsWriter.Write(path, new Dictionary<string, TorchSharp.torch.Tensor>
            {
                ["conv1.weight"] = conv,
                ["fc.weight"] = fc,
            });
        }

        try
        {
            var error = Assert.Throws<InvalidDataException>(() => BackboneCheckpoint.Read(path));
            Assert.Contains("Could not recognise the layout", error.Message);
            Assert.Contains("conv1.weight", error.Message);
            Assert.Contains("fc.weight", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void MissingFileIsFileNotFound()
    {
        var error = Assert.Throws<FileNotFoundException>(() => BackboneCheckpoint.Read("no/such/model.safetensors"));
        Assert.Contains("no/such/model.safetensors", error.Message);
    }
}
