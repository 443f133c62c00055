using MLNet.PromptTuning.Backbones;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Pretrained ViT weights read from the files people download, with every tensor renamed to timm's names and floating
/// tensors converted to float32. Reads <c>.safetensors</c> (timm, Hugging Face, MAE, MoCo v3 exports) and Google's
/// JAX <c>.npz</c>; refuses PyTorch pickles (<c>.pt</c>, <c>.pth</c>, <c>.bin</c>, <c>.pth.tar</c>) with the recipe to
/// convert them, unless <see cref="CheckpointLoadOptions.AllowPyTorchPickles"/> opts in to reading the tensors of a
/// <c>torch.save</c> zip file. The classifier head is kept apart in <see cref="HeadTensors"/>.
/// </summary>
/// <remarks>
/// Files are treated as untrusted input: every size, offset and count a file declares is checked against what the
/// file holds before memory is taken, zip CRCs are verified, NaN and infinite weights are refused by default, and only
/// these exception types leave the loading methods: <see cref="InvalidDataException"/> (a damaged or malformed file,
/// non-finite weights, an unrecognised layout), <see cref="NotSupportedException"/> (valid content this library does
/// not read), <see cref="CheckpointMismatchException"/> (a valid checkpoint that does not fit the backbone),
/// <see cref="IOException"/>/<see cref="UnauthorizedAccessException"/> (the file cannot be opened or read) and
/// <see cref="OutOfMemoryException"/> (the machine cannot hold what the file really contains), plus
/// <see cref="ArgumentException"/>s for invalid arguments. Any other failure while reading is wrapped in an
/// <see cref="InvalidDataException"/> naming the file (and the tensor, when one was being read).
/// </remarks>
/// <example>
/// <code>
/// using var backbone = new VisionTransformer(VitVariants.Base());
/// var report = BackboneCheckpoint.Load(backbone, "model.safetensors");
/// Console.WriteLine(report);
/// </code>
/// </example>
public sealed class BackboneCheckpoint : IDisposable
{
    private readonly Dictionary<string, Tensor> _tensors;
    private readonly Dictionary<string, Tensor> _head;
    private bool _disposed;

    private BackboneCheckpoint(
        string source,
        CheckpointFormat format,
        Dictionary<string, Tensor> tensors,
        Dictionary<string, Tensor> head,
        IReadOnlyList<string> ignored,
        IReadOnlyDictionary<string, string> metadata)
    {
        Source = source;
        Format = format;
        _tensors = tensors;
        _head = head;
        IgnoredKeys = ignored;
        Metadata = metadata;
    }

    /// <summary>The file the weights came from.</summary>
    public string Source { get; }

    /// <summary>The layout the file was read as (the detected one when <see cref="CheckpointFormat.Auto"/> was
    /// asked).</summary>
    public CheckpointFormat Format { get; }

    /// <summary>Backbone tensors under timm names (floating ones as float32), without the head. Owned by this
    /// object.</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _tensors;
        }
    }

    /// <summary>
    /// The classifier head, <c>head.weight</c> [C, D] and <c>head.bias</c> [C], when the checkpoint has one (empty
    /// otherwise). Owned by this object: clone a tensor to keep it after disposal.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> HeadTensors
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _head;
        }
    }

    /// <summary>Source keys deliberately not used (pre-logits, pooler, projector, momentum encoder,
    /// decoder...).</summary>
    public IReadOnlyList<string> IgnoredKeys { get; }

    /// <summary>The safetensors <c>__metadata__</c> map; empty for other files.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Reads a checkpoint and maps it to timm names.</summary>
    /// <param name="path">A <c>.safetensors</c> or <c>.npz</c> file (or a PyTorch <c>.pth</c> when
    /// <see cref="CheckpointLoadOptions.AllowPyTorchPickles"/> is set).</param>
    /// <param name="format">The naming layout; <see cref="CheckpointFormat.Auto"/> (default) detects it from sentinel
    /// keys.</param>
    /// <param name="options">Reading options (non-finite weights, PyTorch pickles); null for the defaults.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="NotSupportedException">
    /// A PyTorch pickle while <see cref="CheckpointLoadOptions.AllowPyTorchPickles"/> is off (the message explains how
    /// to convert it), or valid content this library does not read, such as an unsupported dtype (names the tensor).
    /// </exception>
    /// <exception cref="InvalidDataException">
    /// A damaged or malformed file (truncated, impossible sizes or offsets, bad CRC, invalid header), a NaN or infinite
    /// weight while <see cref="CheckpointLoadOptions.AllowNonFiniteWeights"/> is off (names the tensor), or a layout
    /// that cannot be recognised (lists keys seen). Any unforeseen failure while reading is also reported as this type,
    /// naming the file, with the original as the inner exception.
    /// </exception>
    public static BackboneCheckpoint Read(
        string path, CheckpointFormat format = CheckpointFormat.Auto, CheckpointLoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!Enum.IsDefined(format))
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown CheckpointFormat.");
        }

        options ??= new CheckpointLoadOptions();
        return CheckpointErrors.Guard(path, () => ReadChecked(path, format, options));
    }

    private static BackboneCheckpoint ReadChecked(string path, CheckpointFormat format, CheckpointLoadOptions options)
    {
        var kind = CheckpointFileSniffer.Sniff(path);
        using var scope = torch.NewDisposeScope();
        IReadOnlyDictionary<string, string> metadata = new Dictionary<string, string>();
        Dictionary<string, Tensor> raw;
        switch (kind)
        {
            case CheckpointFileKind.SafeTensors:
                using (var reader = SafeTensorsReader.Open(path))
                {
                    metadata = reader.Metadata;
                    raw = new Dictionary<string, Tensor>(StringComparer.Ordinal);
                    foreach (var info in reader.Tensors)
                    {
                        // Widen one tensor at a time so a half-precision file never sits in memory next to its copy.
                        raw[info.Name] = ToFloat32(reader.ReadTensor(info.Name), disposeSource: true);
                    }
                }

                break;
            case CheckpointFileKind.Npz:
                raw = NpzReader.Read(path);
                break;
            case CheckpointFileKind.TorchZip when options.AllowPyTorchPickles:
                raw = TorchPickleReader.Read(path);
                break;
            case CheckpointFileKind.TorchZip or CheckpointFileKind.TorchScript or CheckpointFileKind.Pickle:
                throw TorchPickleRefusal.Create(path, kind, options.AllowPyTorchPickles);
            case CheckpointFileKind.Npy:
                throw new InvalidDataException(
                    $"'{path}' is a single NumPy array, not a checkpoint; a JAX checkpoint is an .npz archive.");
            case CheckpointFileKind.OtherZip:
                throw new InvalidDataException(
                    $"'{path}' is a zip archive but neither an .npz of arrays nor a PyTorch checkpoint.");
            default:
                if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
                {
                    // Let the reader say precisely what is wrong with the header.
                    using (SafeTensorsReader.Open(path))
                    {
                    }
                }

                throw NotAWeightsFile(path);
        }

        var detected = format == CheckpointFormat.Auto ? CheckpointFormatDetector.Detect(raw.Keys, path) : format;
        var mapped = Remap(detected, raw, path);

        if (mapped.Backbone.Count == 0 || !mapped.Backbone.Keys.Any(IsTimmBackboneKey))
        {
            throw new InvalidDataException(
                $"'{path}' has no ViT backbone tensors in the {detected} layout. Keys seen: " +
                $"{string.Join(", ", raw.Keys.Take(8))}{(raw.Count > 8 ? ", ..." : "")}.");
        }

        foreach (var (key, tensor) in mapped.Head.Where(p => !p.Value.is_floating_point()))
        {
            throw new InvalidDataException(
                $"Head tensor '{key}' of '{path}' is {tensor.dtype}; a classifier head is floating point.");
        }

        if (!options.AllowNonFiniteWeights)
        {
            RequireFinite(mapped.Backbone.Concat(mapped.Head), path);
        }

        // Everything the result keeps leaves the scope; the source tensors it does not keep are freed with it.
        var tensors = mapped.Backbone.ToDictionary(p => p.Key, p => ToFloat32(p.Value).DetachFromDisposeScope(),
            StringComparer.Ordinal);
        var head = mapped.Head.ToDictionary(p => p.Key, p => ToFloat32(p.Value).DetachFromDisposeScope(),
            StringComparer.Ordinal);
        return new BackboneCheckpoint(path, detected, tensors, head, mapped.Ignored.ToArray(), metadata);
    }

    /// <summary>
    /// Reads the architecture (including the preprocessing) that <see cref="Save"/> stores in a safetensors file's
    /// <c>vit_config</c> metadata, from the header only (no tensor is read). The configuration is checked against the
    /// tensors the header declares (every backbone parameter present with the shape the configuration implies), so a
    /// configuration that was edited or damaged is refused before anything of its size is built.
    /// </summary>
    /// <param name="path">A <c>.safetensors</c> file written by <see cref="Save"/>.</param>
    /// <returns>The validated configuration.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file (this is said first), has no
    /// <c>vit_config</c> metadata (files from other tools: build the <see cref="VitConfig"/> yourself, for example
    /// with <see cref="VitVariants"/>), or the stored configuration is malformed, invalid, or does not describe the
    /// file's tensors.</exception>
    public static VitConfig ReadConfig(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return CheckpointErrors.Guard(path, () =>
        {
            // The real cause first: bytes that are no weights file at all are reported as such, whatever the name.
            var kind = CheckpointFileSniffer.Sniff(path);
            if (kind == CheckpointFileKind.Unknown &&
                !path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            {
                throw NotAWeightsFile(path);
            }

            if (kind is not (CheckpointFileKind.SafeTensors or CheckpointFileKind.Unknown))
            {
                throw MissingArchitecture.Create(
                    $"'{path}' is not a safetensors file; only safetensors files written by BackboneCheckpoint.Save " +
                    "carry their ViT configuration. Build the VitConfig yourself (for example with VitVariants) and " +
                    "call Load.");
            }

            using var reader = SafeTensorsReader.Open(path);
            if (!reader.Metadata.TryGetValue(VitConfigJson.MetadataKey, out var json))
            {
                throw MissingArchitecture.Create(
                    $"'{path}' has no '{VitConfigJson.MetadataKey}' metadata, so its architecture is unknown (it was " +
                    "not written by BackboneCheckpoint.Save). Build the VitConfig yourself (for example with " +
                    "VitVariants) and call Load.");
            }

            var config = VitConfigJson.Deserialize(json, path);
            VitConfigJson.CheckAgainstTensors(config, reader.Tensors, path);
            return config;
        });
    }

    /// <summary>
    /// Creates a backbone with the architecture stored in the file (<see cref="ReadConfig"/>) and loads its weights:
    /// opens a backbone written by <see cref="Save"/> without knowing its architecture. The stored configuration is
    /// checked against the file's tensors before the backbone is built.
    /// </summary>
    /// <param name="path">A <c>.safetensors</c> file written by <see cref="Save"/>.</param>
    /// <param name="options">Reading options; null for the defaults.</param>
    /// <returns>The loaded backbone; the caller owns it.</returns>
    /// <exception cref="InvalidDataException">See <see cref="ReadConfig"/> and <see cref="Read"/>.</exception>
    /// <exception cref="CheckpointMismatchException">The tensors do not match the stored configuration.</exception>
    public static VisionTransformer LoadBackbone(string path, CheckpointLoadOptions? options = null)
    {
        var config = ReadConfig(path);
        var backbone = new VisionTransformer(config);
        try
        {
            Load(backbone, path, CheckpointFormat.Timm, options);
            return backbone;
        }
        catch
        {
            backbone.Dispose();
            throw;
        }
    }

    /// <summary>Reads a checkpoint and loads it into <paramref name="backbone"/>; see <see cref="LoadInto"/>.</summary>
    /// <param name="backbone">The backbone to fill.</param>
    /// <param name="path">A <c>.safetensors</c> or <c>.npz</c> file.</param>
    /// <param name="format">The naming layout; <see cref="CheckpointFormat.Auto"/> (default) detects it.</param>
    /// <param name="options">Adaptation options; null for the defaults.</param>
    /// <exception cref="CheckpointMismatchException">
    /// The checkpoint does not fit the backbone; nothing was loaded.
    /// </exception>
    /// <exception cref="InvalidDataException">See <see cref="Read"/>.</exception>
    /// <exception cref="NotSupportedException">See <see cref="Read"/>.</exception>
    public static CheckpointLoadReport Load(
        VisionTransformer backbone, string path, CheckpointFormat format = CheckpointFormat.Auto,
        CheckpointLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        using var checkpoint = Read(path, format, options);
        return checkpoint.LoadInto(backbone, options);
    }

    /// <summary>
    /// Fills every parameter of <paramref name="backbone"/>. The mapped tensors are first compared with the backbone's
    /// <c>state_dict()</c>: the <c>pos_embed</c> grid is resampled for another image size, a 3-channel patch kernel is
    /// summed for a 1-channel backbone, and <c>fc_norm</c> is provided from <c>norm</c> or as identity
    /// (<see cref="CheckpointLoadOptions"/>); any remaining missing key, unexpected key, shape mismatch or integer
    /// tensor for a floating-point parameter throws <see cref="CheckpointMismatchException"/> before anything is
    /// loaded. The head is never loaded.
    /// </summary>
    /// <returns>What was loaded and adapted.</returns>
    /// <exception cref="CheckpointMismatchException">
    /// The checkpoint does not fit the backbone; nothing was loaded.
    /// </exception>
    public CheckpointLoadReport LoadInto(VisionTransformer backbone, CheckpointLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return CheckpointErrors.Guard(Source, () =>
            CheckpointLoader.Load(backbone, backbone.Config, this, options ?? new CheckpointLoadOptions()));
    }

    /// <summary>
    /// Saves a backbone as a timm-named float32 safetensors file, atomically (written to a temporary file in the same
    /// folder, flushed to disk, then moved over the target: the path holds the old or the new complete file even if the
    /// process is killed, and a temporary file left by a killed save is removed by the next save), which timm,
    /// Hugging Face's safetensors and <see cref="Read"/> load. Metadata records <c>format: pt</c>, the architecture
    /// name and the whole configuration as JSON (<c>vit_config</c>), which <see cref="ReadConfig"/> and
    /// <see cref="LoadBackbone"/> read back.
    /// </summary>
    /// <param name="backbone">The backbone to save.</param>
    /// <param name="path">Destination; replaced if it exists.</param>
    /// <param name="head">Optional classifier tensors to store as <c>head.weight</c>/<c>head.bias</c>.</param>
    /// <param name="metadata">Optional extra <c>__metadata__</c> entries.</param>
    public static void Save(
        VisionTransformer backbone, string path, IReadOnlyDictionary<string, Tensor>? head = null,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var scope = torch.NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, tensor) in backbone.state_dict())
        {
            tensors[key] = tensor;
        }

        foreach (var (key, tensor) in head ?? new Dictionary<string, Tensor>())
        {
            if (!key.StartsWith("head.", StringComparison.Ordinal) || !tensors.TryAdd(key, tensor))
            {
                throw new ArgumentException($"Head tensor key '{key}' must start with 'head.' and be unique.",
                    nameof(head));
            }
        }

        var allMetadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = "pt",
            ["architecture"] = backbone.Config.Name,
            [VitConfigJson.MetadataKey] = VitConfigJson.Serialize(backbone.Config),
        };
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
        {
            allMetadata[key] = value;
        }

        SafeTensorsWriter.Write(path, tensors, allMetadata);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var tensor in _tensors.Values.Concat(_head.Values))
        {
            tensor.Dispose();
        }
    }

    private static KeyMapResult Remap(CheckpointFormat format, Dictionary<string, Tensor> raw, string path)
    {
        try
        {
            return format switch
            {
                CheckpointFormat.Timm => TimmKeyMap.Remap(raw),
                CheckpointFormat.HuggingFace => HuggingFaceKeyMap.Remap(raw),
                CheckpointFormat.JaxNpz => JaxNpzKeyMap.Remap(raw),
                CheckpointFormat.Mae => MaeKeyMap.Remap(raw),
                CheckpointFormat.MocoV3 => MocoV3KeyMap.Remap(raw),
                _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown CheckpointFormat."),
            };
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException)
        {
            // The key maps name tensors; say which file they are in.
            throw e is NotSupportedException
                ? new NotSupportedException($"'{path}' ({format} layout): {e.Message}", e)
                : new InvalidDataException($"'{path}' ({format} layout): {e.Message}", e);
        }
    }

    private static InvalidDataException NotAWeightsFile(string path) => new(
        $"'{path}' is not a recognised weights file: its bytes are neither safetensors nor an .npz archive " +
        "(PyTorch pickles must be converted to safetensors, or read with CheckpointLoadOptions.AllowPyTorchPickles).");

    /// <summary>Refuses NaN and infinite values, naming the first tensor that has any and how many.</summary>
    private static void RequireFinite(IEnumerable<KeyValuePair<string, Tensor>> tensors, string path)
    {
        foreach (var (key, tensor) in tensors)
        {
            if (!tensor.is_floating_point() || tensor.numel() == 0)
            {
                continue;
            }

            using var scope = torch.NewDisposeScope();
            var finite = torch.isfinite(tensor);
            if (finite.all().item<bool>())
            {
                continue;
            }

            var nan = torch.isnan(tensor).sum().item<long>();
            var infinite = tensor.numel() - finite.sum().item<long>() - nan;
            throw new InvalidDataException(
                $"Tensor '{key}' of '{path}' has {nan} NaN and {infinite} infinite value(s) out of {tensor.numel()}; " +
                "a damaged file, or weights from a diverged run. Set CheckpointLoadOptions.AllowNonFiniteWeights to " +
                "load them anyway.");
        }
    }

    private static bool IsTimmBackboneKey(string key) =>
        key is "cls_token" or "pos_embed" || key.StartsWith("patch_embed.", StringComparison.Ordinal) ||
        key.StartsWith("blocks.", StringComparison.Ordinal);

    private static Tensor ToFloat32(Tensor tensor, bool disposeSource = false)
    {
        if (!tensor.is_floating_point() || tensor.dtype == ScalarType.Float32)
        {
            return tensor;
        }

        var widened = tensor.to(ScalarType.Float32);
        if (disposeSource)
        {
            tensor.Dispose();
        }

        return widened;
    }
}
