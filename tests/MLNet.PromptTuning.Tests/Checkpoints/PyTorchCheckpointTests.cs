using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Checkpoints;

/// <summary>
/// The opt-in reader of torch.save checkpoints (CheckpointLoadOptions.AllowPyTorchPickles), on files written by
/// PyTorch 1.13 (TestAssets/Checkpoints/make_fixtures.py).
/// </summary>
public sealed class PyTorchCheckpointTests
{
    private const string Marker = "/tmp/mlnet-prompttuning-pickle-ran.marker";
    private static readonly CheckpointLoadOptions OptIn = new() { AllowPyTorchPickles = true };

    [Theory]
    [InlineData("vit_timm.pth", CheckpointFormat.Timm)]
    [InlineData("vit_mocov3_checkpoint.pth.tar", CheckpointFormat.MocoV3)]
    public void FlatAndWrappedCheckpointsLoadTheSameWeightsAsSafetensors(string file, CheckpointFormat format)
    {
        using var fromPickle = BackboneCheckpoint.Read(CheckpointFixtures.Path(file), options: OptIn);
        using var fromSafetensors = BackboneCheckpoint.Read(CheckpointFixtures.Path("vit_timm.safetensors"));

        Assert.Equal(format, fromPickle.Format);
        Assert.Equal(fromSafetensors.Tensors.Keys.Order(), fromPickle.Tensors.Keys.Order());
        foreach (var (key, tensor) in fromSafetensors.Tensors)
        {
            Assert.Equal(tensor.bytes.ToArray(), fromPickle.Tensors[key].bytes.ToArray());
        }

        Assert.Equal(fromSafetensors.HeadTensors["head.weight"].bytes.ToArray(),
            fromPickle.HeadTensors["head.weight"].bytes.ToArray());
    }

    [Fact]
    public void MaeModelWrapperLoadsIntoAnAveragePoolingBackbone()
    {
        using var backbone = new VisionTransformer(CheckpointFixtures.Config(average: true));
        var report = BackboneCheckpoint.Load(backbone, CheckpointFixtures.Path("vit_mae_model.pth"), options: OptIn);

        Assert.Equal(CheckpointFormat.Mae, report.Format);
        Assert.Contains("mask_token", report.IgnoredKeys);
        using var expected = new VisionTransformer(CheckpointFixtures.Config(average: true));
        BackboneCheckpoint.Load(expected, CheckpointFixtures.Path("vit_mae.safetensors"));
        foreach (var (key, tensor) in expected.state_dict())
        {
            Assert.True(tensor.equal(backbone.state_dict()[key]).all().item<bool>(), key);
        }
    }

    [Fact]
    public void ViewsSharingOneStorageAtOffsetsReadTheirOwnElements()
    {
        var tensors = TorchPickleReader.Read(CheckpointFixtures.Path("pth_shared_storage.pth"));
        try
        {
            Assert.Equal([0f, 1, 2, 3], tensors["head"].data<float>().ToArray());
            Assert.Equal([4f, 5, 6, 7, 8, 9], tensors["middle"].data<float>().ToArray());
            Assert.Equal(new long[] { 2, 7 }, tensors["tail"].shape);
            Assert.Equal(Enumerable.Range(10, 14).Select(i => (float)i), tensors["tail"].data<float>().ToArray());
            Assert.Equal(new long[] { 4, 3 }, tensors["grid_t"].shape);
            Assert.Equal([0f, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11], tensors["grid_t"].data<float>().ToArray());
        }
        finally
        {
            CheckpointFixtures.DisposeAll(tensors.Values);
        }
    }

    [Fact]
    public void WithoutTheOptionPicklesAreRefusedWithTheConversionRecipe()
    {
        var path = CheckpointFixtures.Path("vit_timm.pth");
        var error = Assert.Throws<NotSupportedException>(() => BackboneCheckpoint.Read(path));
        Assert.Contains("AllowPyTorchPickles", error.Message);
        Assert.Contains("safetensors.torch.save_file(", error.Message);
    }

    [Fact]
    public void LegacyFormatStaysRefusedEvenWithTheOption()
    {
        var path = CheckpointFixtures.Path("refuse_legacy.pth.tar");
        var error = Assert.Throws<NotSupportedException>(() => BackboneCheckpoint.Read(path, options: OptIn));
        Assert.Contains(path, error.Message);
        Assert.Contains("only the zip format of torch.save", error.Message);
    }

    [Theory]
    [InlineData("pth_os_system.pth", "posix.system")]
    [InlineData("pth_eval.pth", "__builtin__.eval")]
    public void CodeInAPickleIsRefusedAndNeverRuns(string file, string name)
    {
        File.Delete(Marker);
        var path = CheckpointFixtures.Path(file);

        var error = Assert.Throws<InvalidDataException>(() => BackboneCheckpoint.Read(path, options: OptIn));
        Assert.Contains(path, error.Message);
        Assert.Contains(name, error.Message);
        Assert.Contains("it was not run", error.Message);
        Assert.False(File.Exists(Marker), "the pickle's payload ran");

        // The pickle scanner is what refuses it; PyBridge on its own does not run it either.
        using (var stream = File.OpenRead(path))
        {
            Assert.ThrowsAny<Exception>(() => TorchSharp.PyBridge.PyTorchUnpickler.UnpickleStateDict(stream));
        }

        Assert.False(File.Exists(Marker), "PyBridge ran the pickle's payload");
    }

    [Fact]
    public void NumpyScalarsAreRefusedNamingTheFileAndWhatToDo()
    {
        var path = CheckpointFixtures.Path("pth_numpy_scalar.pth");
        var error = Assert.Throws<InvalidDataException>(() => BackboneCheckpoint.Read(path, options: OptIn));
        Assert.Contains(path, error.Message);
        Assert.Contains("numpy", error.Message);
        Assert.Contains("state_dict()", error.Message);
    }
}
