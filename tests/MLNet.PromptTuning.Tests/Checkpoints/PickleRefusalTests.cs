using MLNet.PromptTuning.Checkpoints;
using Xunit;

namespace MLNet.PromptTuning.Tests.Checkpoints;

public sealed class PickleRefusalTests
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
    public void MissingFileIsFileNotFound()
    {
        var error = Assert.Throws<FileNotFoundException>(() => BackboneCheckpoint.Read("no/such/model.safetensors"));
        Assert.Contains("no/such/model.safetensors", error.Message);
    }
}
