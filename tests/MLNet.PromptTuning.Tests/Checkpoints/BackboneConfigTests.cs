using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Data;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Checkpoints;

/// <summary>The architecture stored in a saved backbone's metadata: ReadConfig and LoadBackbone.</summary>
public sealed class BackboneConfigTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("config-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Every property differs from the defaults, so a field the JSON drops would show.</summary>
    internal static VitConfig UnusualConfig() => new()
    {
        Name = "vit_unusual",
        ImageHeight = 12,
        ImageWidth = 8,
        PatchSize = 4,
        InChannels = 1,
        EmbedDim = 24,
        Depth = 2,
        NumHeads = 3,
        MlpRatio = 2.5,
        QkvBias = false,
        LayerNormEps = 1e-5,
        GlobalPooling = GlobalPooling.Average,
        UseFcNorm = true,
        Preprocessing = new ImagePreprocessing(12, 8, 1, new[] { 0.3139f }, new[] { 0.3626f }),
    };

    internal static void AssertSameConfig(VitConfig expected, VitConfig actual)
    {
        Assert.Equal(expected.Name, actual.Name);
        Assert.Equal(expected.ImageHeight, actual.ImageHeight);
        Assert.Equal(expected.ImageWidth, actual.ImageWidth);
        Assert.Equal(expected.PatchSize, actual.PatchSize);
        Assert.Equal(expected.InChannels, actual.InChannels);
        Assert.Equal(expected.EmbedDim, actual.EmbedDim);
        Assert.Equal(expected.Depth, actual.Depth);
        Assert.Equal(expected.NumHeads, actual.NumHeads);
        Assert.Equal(expected.MlpRatio, actual.MlpRatio);
        Assert.Equal(expected.QkvBias, actual.QkvBias);
        Assert.Equal(expected.LayerNormEps, actual.LayerNormEps);
        Assert.Equal(expected.GlobalPooling, actual.GlobalPooling);
        Assert.Equal(expected.UseFcNorm, actual.UseFcNorm);
        Assert.Equal(expected.Preprocessing.Height, actual.Preprocessing.Height);
        Assert.Equal(expected.Preprocessing.Width, actual.Preprocessing.Width);
        Assert.Equal(expected.Preprocessing.Channels, actual.Preprocessing.Channels);
        Assert.Equal(expected.Preprocessing.Mean, actual.Preprocessing.Mean);
        Assert.Equal(expected.Preprocessing.Std, actual.Preprocessing.Std);
    }

    [Fact]
    public void ReadConfigReturnsEverySavedPropertyAndLoadBackboneRebuildsTheModel()
    {
        var config = UnusualConfig();
        torch.manual_seed(5);
        using var original = new VisionTransformer(config);
        var path = Path.Combine(_directory, "unusual.safetensors");
        BackboneCheckpoint.Save(original, path);

        AssertSameConfig(config, BackboneCheckpoint.ReadConfig(path));

        using var reloaded = BackboneCheckpoint.LoadBackbone(path);
        AssertSameConfig(config, reloaded.Config);
        var copied = reloaded.state_dict();
        Assert.Equal(original.state_dict().Count, copied.Count);
        foreach (var (key, tensor) in original.state_dict())
        {
            Assert.True(TinyModels.Same(tensor, copied[key]), key);
        }
    }

    [Fact]
    public void EnumsAreStoredByNameAndComputedPropertiesAreLeftOut()
    {
        using var backbone = new VisionTransformer(UnusualConfig());
        var path = Path.Combine(_directory, "names.safetensors");
        BackboneCheckpoint.Save(backbone, path);

        using var reader = SafeTensorsReader.Open(path);
        var json = reader.Metadata["vit_config"];
        Assert.Contains("\"GlobalPooling\":\"Average\"", json);
        Assert.DoesNotContain("NumPatches", json);
        Assert.DoesNotContain("HeadDim", json);
    }

    [Fact]
    public void NumericEnumsOfEarlierFilesStillRead()
    {
        // Files saved before enums were written by name hold GlobalPooling as a number.
        var path = WriteWithConfigJson("""
            {"Name":"old","ImageHeight":8,"ImageWidth":8,"PatchSize":4,"InChannels":1,"EmbedDim":8,"Depth":1,
             "NumHeads":2,"MlpRatio":4,"QkvBias":true,"LayerNormEps":1E-06,"GlobalPooling":1,"UseFcNorm":true,
             "Preprocessing":{"Height":8,"Width":8,"Channels":1,"Mean":[0.5],"Std":[0.5]},"GridHeight":2}
            """, tensorsFor: new VitConfig
            {
                ImageHeight = 8, ImageWidth = 8, PatchSize = 4, InChannels = 1, EmbedDim = 8, Depth = 1, NumHeads = 2,
                GlobalPooling = GlobalPooling.Average, UseFcNorm = true,
                Preprocessing = new ImagePreprocessing(8, 8, 1, [0.5f], [0.5f]),
            });

        var config = BackboneCheckpoint.ReadConfig(path);

        Assert.Equal(GlobalPooling.Average, config.GlobalPooling);
        Assert.Equal("old", config.Name);
        Assert.Equal(new[] { 0.5f }, config.Preprocessing.Mean);
    }

    [Fact]
    public void FileWithoutConfigMetadataSaysHowToProceed()
    {
        var path = Path.Combine(_directory, "plain.safetensors");
        using (var tensor = torch.zeros(2, 2))
        {
            SafeTensorsWriter.Write(path, new Dictionary<string, Tensor> { ["cls_token"] = tensor },
                new Dictionary<string, string> { ["format"] = "pt" });
        }

        var error = Assert.Throws<InvalidDataException>(() => BackboneCheckpoint.ReadConfig(path));
        Assert.Contains("no 'vit_config' metadata", error.Message);
        Assert.Contains("VitVariants", error.Message);
        Assert.Throws<InvalidDataException>(() => BackboneCheckpoint.LoadBackbone(path));
    }

    [Fact]
    public void InvalidStoredConfigNamesTheProperty()
    {
        var path = WriteWithConfigJson("""
            {"Name":"bad","ImageHeight":8,"ImageWidth":8,"PatchSize":4,"InChannels":1,"EmbedDim":8,"Depth":1,
             "NumHeads":3,"Preprocessing":{"Height":8,"Width":8,"Channels":1,"Mean":[0.5],"Std":[0.5]}}
            """);

        var error = Assert.Throws<InvalidDataException>(() => BackboneCheckpoint.ReadConfig(path));
        Assert.Contains("VitConfig.NumHeads is 3", error.Message);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void MalformedConfigJsonIsInvalidData()
    {
        var path = WriteWithConfigJson("{\"Name\": ");
        var error = Assert.Throws<InvalidDataException>(() => BackboneCheckpoint.ReadConfig(path));
        Assert.Contains("is not a valid ViT configuration", error.Message);
    }

    [Fact]
    public void NpzFilesCarryNoConfig()
    {
        var error = Assert.Throws<InvalidDataException>(() =>
            BackboneCheckpoint.ReadConfig(CheckpointFixtures.Path("vit_jax.npz")));
        Assert.Contains("not a safetensors file", error.Message);
    }

    [Fact]
    public void StoredConfigThatDoesNotDescribeTheTensorsIsRefusedBeforeBuilding()
    {
        // A file whose vit_config was edited to a huge model: refused from the header, before any model is built.
        var config = CheckpointFixtures.Config();
        var deep = WriteWithConfigJson(VitConfigJsonText(config with { Depth = 1_000_000_000 }), tensorsFor: config);
        var error = Assert.Throws<InvalidDataException>(() => BackboneCheckpoint.LoadBackbone(deep));
        Assert.Contains("does not describe the file's tensors", error.Message);
        Assert.Contains("Depth 1000000000, but the file has only 30 tensors", error.Message);

        var wide = WriteWithConfigJson(VitConfigJsonText(config with { MlpRatio = 1000 }), tensorsFor: config);
        error = Assert.Throws<InvalidDataException>(() => BackboneCheckpoint.LoadBackbone(wide));
        Assert.Contains("MlpRatio 1000", error.Message);
        Assert.Contains("'blocks.0.mlp.fc1.weight' is [64, 16], the configuration needs [16000, 16]", error.Message);
    }

    [Fact]
    public void StoredConfigWithAnAbsurdWidthIsRefusedBeforeBuilding()
    {
        var config = CheckpointFixtures.Config();
        var path = WriteWithConfigJson(VitConfigJsonText(config with { EmbedDim = 1_000_000, NumHeads = 1 }),
            tensorsFor: config);

        var error = Assert.Throws<InvalidDataException>(() => BackboneCheckpoint.LoadBackbone(path));
        Assert.Contains("EmbedDim 1000000", error.Message);
    }

    [Fact]
    public void ParameterShapesOfAConfigMatchTheBuiltModel()
    {
        foreach (var config in new[]
                 {
                     CheckpointFixtures.Config(), CheckpointFixtures.Config(24, 1, average: true),
                     CheckpointFixtures.Config() with { QkvBias = false, MlpRatio = 2.5, Depth = 3 },
                 })
        {
            using var model = new VisionTransformer(config);
            var built = model.state_dict().ToDictionary(p => p.Key, p => p.Value.shape);
            var computed = VitParameterShapes.For(config);
            Assert.Equal(built.Keys.Order(), computed.Keys.Order());
            foreach (var (key, shape) in built)
            {
                Assert.Equal(shape, computed[key]);
            }
        }
    }

    private static string VitConfigJsonText(VitConfig config)
    {
        var path = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".safetensors");
        try
        {
            using var model = new VisionTransformer(CheckpointFixtures.Config());
            BackboneCheckpoint.Save(model, path);
            using var reader = SafeTensorsReader.Open(path);
            var stored = System.Text.Json.JsonSerializer.Deserialize<System.Text.Json.Nodes.JsonObject>(
                reader.Metadata["vit_config"])!;
            stored["Depth"] = config.Depth;
            stored["MlpRatio"] = config.MlpRatio;
            stored["EmbedDim"] = config.EmbedDim;
            stored["NumHeads"] = config.NumHeads;
            return stored.ToJsonString();
        }
        finally
        {
            File.Delete(path);
        }
    }

    private string WriteWithConfigJson(string json, VitConfig? tensorsFor = null)
    {
        var path = Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".safetensors");
        var shapes = tensorsFor is null
            ? new Dictionary<string, long[]> { ["cls_token"] = [1] }
            : VitParameterShapes.For(tensorsFor);
        var tensors = shapes.ToDictionary(p => p.Key, p => torch.zeros(p.Value));
        try
        {
            SafeTensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["vit_config"] = json });
        }
        finally
        {
            CheckpointFixtures.DisposeAll(tensors.Values);
        }

        return path;
    }
}
