using System.Text.Json;
using Microsoft.ML;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Persistence;
using MLNet.PromptTuning.Tests.Checkpoints;
using TorchSharp;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// The fuzzed files and the public calls that load them: checkpoints, and the ML.NET model zip of a PromptViT chain.
/// </summary>
internal static class FuzzTargets
{
    /// <summary>The file a hostile pickle would create if it ever ran; the campaign checks it never appears.</summary>
    public static readonly string PickleMarker = Path.Combine(Path.GetTempPath(), "mlnet-fuzz-pickle-ran.marker");

#if !FUZZ_BASELINE
    // The undamaged adapter folder's files by name, written once per process.
    private static readonly Lazy<Dictionary<string, byte[]>> AdapterFiles = new(WriteSeedAdapter);

    // One caller's backbone for every case of a process, with its fingerprint: no load may ever change it.
    private static readonly Lazy<(VisionTransformer Backbone, string Fingerprint)> CallersBackbone = new(() =>
    {
        var backbone = FixtureBackbone();
        return (backbone, BackboneFingerprint.Compute(backbone));
    });
#endif

    public static IReadOnlyList<FuzzTarget> All { get; } = Build();

    public static FuzzTarget Get(string name) =>
        All.FirstOrDefault(t => t.Name == name) ??
        throw new ArgumentException($"No fuzz target '{name}'.", nameof(name));

    private static List<FuzzTarget> Build()
    {
        var classToken = CheckpointFixtures.Config();
        var average = CheckpointFixtures.Config(average: true);
        var gray = CheckpointFixtures.Config(channels: 1);
        var targets = new List<FuzzTarget>
        {
            SafeTensors("st-timm", "vit_timm.safetensors", classToken),
            SafeTensors("st-mixed-dtypes", "vit_timm_mixed_dtypes.safetensors", classToken),
            SafeTensors("st-hf", "vit_hf.safetensors", classToken),
            SafeTensors("st-hf-model", "vit_hf_model.safetensors", classToken),
            SafeTensors("st-mocov3-pretrain", "vit_mocov3_pretrain.safetensors", classToken),
            SafeTensors("st-mae", "vit_mae.safetensors", average),
            SafeTensors("st-gray", "vit_gray_timm.safetensors", gray),
            new("st-saved", "safetensors", SavedBackbone, SafeTensorsMutations.Any, LoadStoredBackbone),
            Npz("npz-jax", "vit_jax.npz", classToken),
            Npz("npz-jax-deflated", "vit_jax_in21k_compressed.npz", classToken),
            new("npz-dtypes", "npz", Fixture("npy_dtypes.npz"), MutateNpz, path => Digest(NpzReader.Read(path))),
            Npy("npy-input", "input.npy"),
            Npy("npy-fortran", "npy_fortran.npy"),
            Npy("npy-v2", "npy_v2.npy"),
            Npy("npy-v3", "npy_v3.npy"),
            new("model-zip", "model", SavedModelZip, MutateModelZip, path => LoadModelZip(path, checks: true),
                "model.zip"),
            // For comparison only (fuzz-campaign --formats model-unchecked): ML.NET's plain Model.Load with the
            // library's checks off, which is how the library loaded models before they existed.
            new("model-zip-unchecked", "model-unchecked", SavedModelZip, MutateModelZip,
                path => LoadModelZip(path, checks: false), "model.zip"),
        };
#if !FUZZ_BASELINE
        targets.Add(Pth("pth-timm", "vit_timm.pth", classToken));
        targets.Add(Pth("pth-mocov3", "vit_mocov3_checkpoint.pth.tar", classToken));
        targets.Add(Pth("pth-mae", "vit_mae_model.pth", average));
        targets.Add(Adapter("adapter-weights", AdapterFolder.WeightsFile, MutateAdapterWeights));
        targets.Add(Adapter("adapter-manifest", AdapterFolder.ManifestFile, JsonMutations.Any));
#endif
        return targets;
    }

    private static FuzzTarget SafeTensors(string name, string file, VitConfig config) =>
        new(name, "safetensors", Fixture(file), SafeTensorsMutations.Any, path => LoadInto(config, path));

    private static FuzzTarget Npz(string name, string file, VitConfig config) =>
        new(name, "npz", Fixture(file), MutateNpz, path => LoadInto(config, path));

    private static FuzzTarget Npy(string name, string file) =>
        new(name, "npy", Fixture(file), NpyMutations.Any, path =>
        {
            using var tensor = NpyReader.Read(path);
            return Digest(new Dictionary<string, torch.Tensor> { ["array"] = tensor });
        });

#if !FUZZ_BASELINE
    private static FuzzTarget Pth(string name, string file, VitConfig config)
    {
        var options = new CheckpointLoadOptions { AllowPyTorchPickles = true };
        return new(name, "pth", Fixture(file), MutatePth, path => LoadInto(config, path, options));
    }

    // A repacked entry has a valid CRC, and torch.save records a storage's size only inside the pickle (which PyBridge
    // does not expose): changed storage bytes, and pickle edits that still unpickle to tensors, are undetectable.
    private static Mutation MutatePth(Random random, byte[] seed) =>
        ZipMutations.Any(random, seed, (r, entry, bytes) => entry.EndsWith("data.pkl", StringComparison.Ordinal)
            ? PickleMutations.Any(r, bytes, PickleMarker) is var m && m.Kind == "pickle-payload"
                ? m
                : m with { Detectable = false }
            : ByteMutations.Any(r, bytes, (at, count) => true) with { Detectable = false });
#endif

    private static Mutation MutateNpz(Random random, byte[] seed) =>
        ZipMutations.Any(random, seed, (r, entry, bytes) => NpyMutations.Any(r, bytes));

    // The PromptViT tensors are covered by digests stored in the model, so any change to them is detectable; ML.NET's
    // own entries (schema, string table, the other transforms) have no checksum beyond the zip's CRC, so an edit
    // repacked with a valid CRC is not.
    private static Mutation MutateModelZip(Random random, byte[] seed) =>
        ZipMutations.Any(random, seed, (r, entry, bytes) => entry.EndsWith(".safetensors", StringComparison.Ordinal)
            ? SafeTensorsMutations.Any(r, bytes) with { Detectable = true, ConfigMayChange = false }
            : ByteMutations.Any(r, bytes, (at, count) => true) with { Detectable = false });

    private static byte[] SavedModelZip() => TinyPromptViTModel.Train().SaveToBytes();

    /// <summary>
    /// The library's load of a model zip, checked or not (unchecked, its exceptions are still wrapped in the
    /// documented types); the digest covers the PromptViT part of the chain.
    /// </summary>
    private static LoadDigest LoadModelZip(string path, bool checks)
    {
        var model = new Microsoft.ML.MLContext(seed: 1).Model.Load(path, out _, verifyIntegrity: checks);
        try
        {
            var promptViT = TinyPromptViTModel.Find(model);
            var config = string.Join("\n", promptViT.ClassNames) + "\n" +
                         Persistence.ModelJson.SerializeMethodOptions(promptViT.Model.Method.Options) + "\n" +
                         Persistence.ModelJson.SerializeConfig(promptViT.Model.Backbone.Config);
            return new LoadDigest(LoadDigests.Of(promptViT.Model.state_dict()), LoadDigests.Of(config));
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    private static Func<byte[]> Fixture(string file) => () => File.ReadAllBytes(CheckpointFixtures.Path(file));

    /// <summary>The public call a user makes: read, map and load into a backbone of the fixture's shape.</summary>
    private static LoadDigest LoadInto(VitConfig config, string path, CheckpointLoadOptions? options = null)
    {
        using var backbone = new VisionTransformer(config);
#if FUZZ_BASELINE
        using var checkpoint = BackboneCheckpoint.Read(path);
#else
        using var checkpoint = BackboneCheckpoint.Read(path, options: options);
#endif
        checkpoint.LoadInto(backbone, options);
        return new LoadDigest(LoadDigests.Of(backbone.state_dict().Concat(checkpoint.HeadTensors)), "");
    }

    private static LoadDigest LoadStoredBackbone(string path)
    {
        using var backbone = BackboneCheckpoint.LoadBackbone(path);
        var config = System.Text.Json.JsonSerializer.Serialize(backbone.Config);
        return new LoadDigest(LoadDigests.Of(backbone.state_dict()), LoadDigests.Of(config));
    }

    private static LoadDigest Digest(Dictionary<string, torch.Tensor> tensors)
    {
        try
        {
            return new LoadDigest(LoadDigests.Of(tensors), "");
        }
        finally
        {
            CheckpointFixtures.DisposeAll(tensors.Values);
        }
    }

    /// <summary>A backbone written by the library itself, with its vit_config: the file LoadBackbone opens.</summary>
    private static byte[] SavedBackbone()
    {
        var path = Path.Combine(
            Path.GetTempPath(), $"fuzz-seed-{Environment.ProcessId}-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var backbone = new VisionTransformer(CheckpointFixtures.Config());
            BackboneCheckpoint.Load(backbone, CheckpointFixtures.Path("vit_timm.safetensors"));
            BackboneCheckpoint.Save(backbone, path);
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

#if !FUZZ_BASELINE
    /// <summary>One file of the adapter folder, damaged; the other is put beside it undamaged.</summary>
    private static FuzzTarget Adapter(string name, string file, Func<Random, byte[], Mutation> mutate) =>
        new(name, "adapter", () => AdapterFiles.Value[file], mutate, LoadAdapter, file, DocumentedArgument: "backbone");

    // The manifest records the weights file's SHA-256: any change to it is detectable now, header text included.
    private static Mutation MutateAdapterWeights(Random random, byte[] seed) =>
        SafeTensorsMutations.Any(random, seed) with { Detectable = true, ConfigMayChange = false };

    /// <summary>
    /// The public call a user makes: LoadAdapter onto the backbone the adapter was trained on (from the fixtures),
    /// shared by every case. What it must never do, change that backbone, is reported as an undocumented exception.
    /// </summary>
    private static LoadDigest LoadAdapter(string path)
    {
        var directory = Path.GetDirectoryName(path)!;
        foreach (var (file, bytes) in AdapterFiles.Value)
        {
            if (file != Path.GetFileName(path))
            {
                File.WriteAllBytes(Path.Combine(directory, file), bytes);
            }
        }

        var (backbone, fingerprint) = CallersBackbone.Value;
        using var loaded = PromptViTTransformer.LoadAdapter(new MLContext(seed: 1), directory, backbone);
        if (BackboneFingerprint.Compute(backbone) != fingerprint)
        {
            throw new InvalidOperationException("LoadAdapter changed the caller's backbone (values or element type).");
        }

        // The configuration is everything the manifest gave the model: what SaveAdapter would write again.
        var configuration = JsonSerializer.Serialize(loaded.DescribeAdapter(), ModelJson.Options);
        return new LoadDigest(LoadDigests.Of(loaded.Model.state_dict()), LoadDigests.Of(configuration));
    }

    /// <summary>A bfloat16 VPT adapter of the fixture backbone: loading it takes the private-copy path.</summary>
    private static Dictionary<string, byte[]> WriteSeedAdapter()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"fuzz-seed-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (var model = TinyAdapters.Create(FixtureBackbone(), new VptOptions { PromptLength = 2 }, seed: 5,
                       ownsBackbone: true, bfloat16: true))
            {
                model.SaveAdapter(directory);
            }

            return new[] { AdapterFolder.ManifestFile, AdapterFolder.WeightsFile }
                .ToDictionary(f => f, f => File.ReadAllBytes(Path.Combine(directory, f)));
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private static VisionTransformer FixtureBackbone()
    {
        var backbone = new VisionTransformer(CheckpointFixtures.Config());
        try
        {
            BackboneCheckpoint.Load(backbone, CheckpointFixtures.Path("vit_timm.safetensors"));
            return backbone;
        }
        catch
        {
            backbone.Dispose();
            throw;
        }
    }
#endif
}
