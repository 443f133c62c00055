using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.ML;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Persistence;
using MLNet.PromptTuning.Tests.Interop;
using MLNet.PromptTuning.Tests.Reliability;
using MLNet.PromptTuning.Training;
using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Tests.Integration;

/// <summary>The adapter folder against torn saves, damaged files and callers' backbones: staging folders, the weights
/// digest, refusals that name the file, and backbones that stay as the caller gave them.</summary>
public sealed class AdapterIntegrityTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("adapter-integrity-").FullName;

    [Fact]
    public void SaveAdapterRecordsTheWeightsDigestAndRemovesDeadSavesStagingFolders()
    {
        using var backbone = TinyModels.Backbone();
        using var model = TinyAdapters.Create(backbone, new VptOptions { PromptLength = 2 }, seed: 3);
        string target = Path.Combine(_folder, "adapter");

        // What a save killed in another process leaves (no process has that id), and one of a live process (pid 1).
        string dead = Path.Combine(_folder, $".adapter.{int.MaxValue - 1}.{Guid.NewGuid():N}.tmp");
        string live = Path.Combine(_folder, $".adapter.1.{Guid.NewGuid():N}.tmp");
        foreach (var staging in new[] { dead, live })
        {
            Directory.CreateDirectory(staging);
            File.WriteAllText(Path.Combine(staging, AdapterFolder.ManifestFile), "{ half");
        }

        model.SaveAdapter(target);
        Assert.False(Directory.Exists(dead));
        Assert.True(Directory.Exists(live)); // a save in progress elsewhere is left alone
        Directory.Delete(live, recursive: true);
        Assert.Empty(Directory.GetFileSystemEntries(_folder, ".adapter*"));

        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(target, AdapterFolder.ManifestFile)))!;
        Assert.Equal(2, manifest["FormatVersion"]!.GetValue<int>());
        byte[] weights = File.ReadAllBytes(Path.Combine(target, AdapterFolder.WeightsFile));
        Assert.Equal(Convert.ToHexString(SHA256.HashData(weights)).ToLowerInvariant(),
            manifest["WeightsSha256"]!.GetValue<string>());

        // The rule stays: a folder that holds anything is never written into.
        var error = Assert.Throws<IOException>(() => model.SaveAdapter(target));
        Assert.Contains(target, error.Message, StringComparison.Ordinal);
        string empty = Directory.CreateDirectory(Path.Combine(_folder, "empty")).FullName;
        model.SaveAdapter(empty);
        Assert.True(File.Exists(Path.Combine(empty, AdapterFolder.WeightsFile)));
    }

    [Fact]
    public void ChangedAdapterWeightsAreRefusedNamingTheFileAndBothDigests()
    {
        using var backbone = TinyModels.Backbone();
        string target = Save(backbone);
        string weightsPath = Path.Combine(target, AdapterFolder.WeightsFile);
        byte[] weights = File.ReadAllBytes(weightsPath);
        string expected = Convert.ToHexString(SHA256.HashData(weights)).ToLowerInvariant();
        weights[^1] ^= 0x10; // a raw value: safetensors itself cannot notice this
        File.WriteAllBytes(weightsPath, weights);
        string actual = Convert.ToHexString(SHA256.HashData(weights)).ToLowerInvariant();

        var error = Assert.Throws<InvalidDataException>(
            () => PromptViTTransformer.LoadAdapter(new MLContext(seed: 1), target, backbone));
        Assert.Contains(weightsPath, error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains(actual, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void VersionOneAdaptersStillLoadWithoutTheDigest()
    {
        using var backbone = TinyModels.Backbone();
        string target = Save(backbone);
        using var expected = PromptViTTransformer.LoadAdapter(new MLContext(seed: 1), target, backbone);
        EditManifest(target, manifest =>
        {
            manifest["FormatVersion"] = 1;
            manifest.AsObject().Remove("WeightsSha256");
        });

        using var loaded = PromptViTTransformer.LoadAdapter(new MLContext(seed: 1), target, backbone);
        Assert.Equal(LoadDigests.Of(expected.Model.state_dict()), LoadDigests.Of(loaded.Model.state_dict()));
        Assert.Equal(expected.ClassNames, loaded.ClassNames);

        // Version 2 without its digest is incomplete, not version 1.
        EditManifest(target, manifest => manifest["FormatVersion"] = 2);
        var error = Assert.Throws<InvalidDataException>(
            () => PromptViTTransformer.LoadAdapter(new MLContext(seed: 1), target, backbone));
        Assert.Contains("WeightsSha256", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json", "")]
    [InlineData("{ \"Format\": 5 }", "")]
    [InlineData("", "FormatVersion=\"two\"")]
    [InlineData("", "Classes=[\"only\"]")]
    [InlineData("", "Classes=[\"a\",null,\"c\"]")]
    [InlineData("", "Classes=[\"a\",\"b\",\"a\"]")]
    [InlineData("", "Method=\"no-such-method\"")]
    [InlineData("", "MethodOptions={\"PromptLength\":-3}")]
    [InlineData("", "MethodOptions=[]")]
    [InlineData("", "InferenceBatchSize=0")]
    [InlineData("", "InferenceBatchSize=2147483647")]
    [InlineData("", "PixelValueScale=\"NaN\"")]
    [InlineData("", "PixelValueScale=-1")]
    [InlineData("", "Precision=\"Half\"")]
    [InlineData("", "Precision=7")]
    [InlineData("", "ScoreColumnName=\"\"")]
    [InlineData("", "WeightsSha256=\"abc\"")]
    [InlineData("", "PixelVectorShape={\"Channels\":-1}")]
    public void MalformedManifestsAreInvalidDataNamingTheManifest(string text, string edit)
    {
        using var backbone = TinyModels.Backbone();
        string target = Save(backbone);
        string manifestPath = Path.Combine(target, AdapterFolder.ManifestFile);
        if (text.Length > 0)
        {
            File.WriteAllText(manifestPath, text);
        }
        else
        {
            int equals = edit.IndexOf('=', StringComparison.Ordinal);
            EditManifest(target, manifest => manifest[edit[..equals]] = JsonNode.Parse(edit[(equals + 1)..]));
        }

        var error = Assert.Throws<InvalidDataException>(
            () => PromptViTTransformer.LoadAdapter(new MLContext(seed: 1), target, backbone));
        Assert.Contains(manifestPath, error.Message, StringComparison.Ordinal);
        using var untouched = TinyModels.Backbone();
        Assert.Equal(BackboneFingerprint.Compute(untouched), BackboneFingerprint.Compute(backbone));
    }

    [Theory]
    [InlineData("vpt", TrainingPrecision.BFloat16)]
    [InlineData("full", TrainingPrecision.Float32)]
    public void FitAndLoadAdapterLeaveTheCallersBackboneBitIdentical(string method, TrainingPrecision precision)
    {
        using var fixture = PromptViTFixture.Create(6);
        var ml = new MLContext(seed: 1);
        var data = PromptViTTrainerTests.Prepare(ml, fixture, fixture.LoadRows(ml));
        using var backbone = TinyModels.Backbone(); // the weights of fixture.BackbonePath
        string before = BackboneFingerprint.Compute(backbone);
        var options = fixture.Options(method, epochs: 1);
        options.BackbonePath = null;
        options.Backbone = backbone;
        options.Precision = precision;

        using var model = ml.MulticlassClassification.Trainers.PromptViT(options).Fit(data);
        Assert.Equal(before, BackboneFingerprint.Compute(backbone));
        Assert.All(backbone.state_dict().Values, t => Assert.Equal(torch.ScalarType.Float32, t.dtype));
        Assert.True(model.Model.OwnsBackbone);
        Assert.NotSame(backbone, model.Model.Backbone);
        var expected = ScoreReading.ReadVectors(model.Transform(data), "Score").Select(ScoreReading.Bits).ToArray();

        // The adapter loads onto the caller's float32 backbone and converts a private copy, never that backbone.
        string adapter = Path.Combine(_folder, "adapter");
        model.SaveAdapter(adapter);
        using var loaded = PromptViTTransformer.LoadAdapter(new MLContext(seed: 2), adapter, backbone);
        Assert.Equal(before, BackboneFingerprint.Compute(backbone));
        Assert.True(loaded.Model.OwnsBackbone);
        Assert.NotSame(backbone, loaded.Model.Backbone);
        Assert.Equal(model.Model.ComputePrecision, loaded.Model.ComputePrecision);
        Assert.Equal(expected, ScoreReading.ReadVectors(loaded.Transform(data), "Score").Select(ScoreReading.Bits));
    }

    [Fact]
    public void BFloat16AdaptersLoadOntoTheFloat32BackboneFileTheyWereTrainedOn()
    {
        using var fixture = PromptViTFixture.Create(6);
        var ml = new MLContext(seed: 1);
        var data = PromptViTTrainerTests.Prepare(ml, fixture, fixture.LoadRows(ml));
        var options = fixture.Options(epochs: 1);
        options.Precision = TrainingPrecision.BFloat16;
        using var model = ml.MulticlassClassification.Trainers.PromptViT(options).Fit(data);
        var expected = ScoreReading.ReadVectors(model.Transform(data), "Score").Select(ScoreReading.Bits).ToArray();

        // The recorded fingerprint is the float32 file's, not that of the bfloat16 copy the model computes in.
        string adapter = Path.Combine(_folder, "bf16-adapter");
        model.SaveAdapter(adapter);
        using var loaded = PromptViTTransformer.LoadAdapter(new MLContext(seed: 2), adapter, fixture.BackbonePath);
        Assert.Equal(torch.ScalarType.BFloat16, loaded.Model.ComputePrecision);
        Assert.Equal(expected, ScoreReading.ReadVectors(loaded.Transform(data), "Score").Select(ScoreReading.Bits));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Save(VisionTransformer backbone)
    {
        string target = Path.Combine(_folder, "adapter-" + Guid.NewGuid().ToString("N", CultureInfo.InvariantCulture));
        using var model = TinyAdapters.Create(backbone, new VptOptions { PromptLength = 2 }, seed: 3);
        model.SaveAdapter(target);
        return target;
    }

    private static void EditManifest(string target, Action<JsonNode> edit)
    {
        string path = Path.Combine(target, AdapterFolder.ManifestFile);
        var manifest = JsonNode.Parse(File.ReadAllText(path))!;
        edit(manifest);
        File.WriteAllText(path, manifest.ToJsonString());
    }
}
