using System.Text;
using System.Text.RegularExpressions;
using MLNet.PromptTuning.Backbones;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Fits timm-named checkpoint tensors to a backbone module: adapts what can be adapted (position grid, input channels,
/// fc_norm), compares names and shapes with the module's state dict, and only then calls <c>load_state_dict</c>.
/// </summary>
internal static partial class CheckpointLoader
{
    private const int ListLimit = 24;

    public static CheckpointLoadReport Load(
        nn.Module module, VitConfig config, BackboneCheckpoint checkpoint, CheckpointLoadOptions options)
    {
        using var scope = torch.NewDisposeScope();
        var parameters = module.state_dict();
        var expected = parameters.ToDictionary(p => p.Key, p => p.Value.shape, StringComparer.Ordinal);
        var candidate = new Dictionary<string, Tensor>(checkpoint.Tensors, StringComparer.Ordinal);
        var adaptations = new List<string>();
        var ignored = checkpoint.IgnoredKeys.ToList();

        AdaptFcNorm(expected, candidate, config, options, adaptations, ignored);
        AdaptPositionEmbedding(expected, candidate, config, options, adaptations);
        AdaptInputChannels(expected, candidate, options, adaptations);

        var missing = expected.Keys.Where(k => !candidate.ContainsKey(k)).ToList();
        var unexpected = candidate.Keys.Where(k => !expected.ContainsKey(k)).ToList();
        var mismatches = expected.Keys.Where(candidate.ContainsKey)
            .Where(k => !candidate[k].shape.SequenceEqual(expected[k]))
            .Select(k => new TensorShapeMismatch(k, expected[k], candidate[k].shape))
            .ToList();
        // Copying an integer tensor into a float parameter would succeed silently with meaningless weights.
        var nonFloating = expected.Keys.Where(candidate.ContainsKey)
            .Where(k => parameters[k].is_floating_point() && !candidate[k].is_floating_point())
            .Select(k => $"{k} ({candidate[k].dtype})")
            .ToList();
        if (missing.Count > 0 || unexpected.Count > 0 || mismatches.Count > 0 || nonFloating.Count > 0)
        {
            throw new CheckpointMismatchException(
                DescribeMismatch(checkpoint, config, missing, unexpected, mismatches, nonFloating),
                missing, unexpected, mismatches, nonFloating);
        }

        var (stillMissing, stillUnexpected) = module.load_state_dict(candidate, strict: true);
        if (stillMissing.Count > 0 || stillUnexpected.Count > 0)
        {
            // The comparison above makes this unreachable unless the module's load_state_dict disagrees with
            // state_dict.
            throw new InvalidOperationException(
                $"load_state_dict reported missing [{string.Join(", ", stillMissing)}] and unexpected " +
                $"[{string.Join(", ", stillUnexpected)}] keys after a clean comparison.");
        }

        var notes = new List<string>();
        if (checkpoint.HeadTensors.TryGetValue("head.weight", out var headWeight) &&
            headWeight.numel() > 0 && headWeight.abs().max().item<float>() == 0f)
        {
            notes.Add("head.weight is all zeros (Google's original ImageNet-21k release zeroed its head); " +
                      "train a new head.");
        }

        return new CheckpointLoadReport
        {
            Source = checkpoint.Source,
            Format = checkpoint.Format,
            LoadedKeys = expected.Keys.ToArray(),
            Adaptations = adaptations,
            IgnoredKeys = ignored,
            HeadShapes = checkpoint.HeadTensors.ToDictionary(
                p => p.Key, p => (IReadOnlyList<long>)p.Value.shape, StringComparer.Ordinal),
            Notes = notes,
        };
    }

    private static void AdaptFcNorm(
        Dictionary<string, long[]> expected, Dictionary<string, Tensor> candidate, VitConfig config,
        CheckpointLoadOptions options, List<string> adaptations, List<string> ignored)
    {
        if (!expected.ContainsKey("fc_norm.weight") || candidate.ContainsKey("fc_norm.weight") ||
            expected.ContainsKey("norm.weight") ||
            !candidate.TryGetValue("norm.weight", out var weight) || !candidate.TryGetValue("norm.bias", out var bias))
        {
            return;
        }

        candidate.Remove("norm.weight");
        candidate.Remove("norm.bias");
        if (options.FcNormSource == FcNormSource.PretrainedNorm)
        {
            candidate["fc_norm.weight"] = weight;
            candidate["fc_norm.bias"] = bias;
            adaptations.Add("fc_norm.weight/bias taken from the checkpoint's norm.weight/bias " +
                            "(FcNormSource.PretrainedNorm: the pretrained norm applied to the pooled mean).");
        }
        else
        {
            candidate["fc_norm.weight"] = torch.ones(config.EmbedDim);
            candidate["fc_norm.bias"] = torch.zeros(config.EmbedDim);
            ignored.Add("norm.weight");
            ignored.Add("norm.bias");
            adaptations.Add("fc_norm set to identity (weight 1, bias 0); the checkpoint's norm.* is unused " +
                            "(FcNormSource.FreshIdentity, as VPT does for MAE).");
        }
    }

    private static void AdaptPositionEmbedding(
        Dictionary<string, long[]> expected, Dictionary<string, Tensor> candidate, VitConfig config,
        CheckpointLoadOptions options, List<string> adaptations)
    {
        if (!options.ResamplePositionEmbedding ||
            !expected.TryGetValue("pos_embed", out var want) || !candidate.TryGetValue("pos_embed", out var have) ||
            have.shape.SequenceEqual(want) || have.dim() != 3 || want.Length != 3 || have.shape[2] != want[2] ||
            have.shape[0] != 1)
        {
            return;
        }

        var prefix = config.NumPrefixTokens;
        var sourceTokens = have.shape[1] - prefix;
        var side = (long)Math.Round(Math.Sqrt(Math.Max(sourceTokens, 0)));
        if (sourceTokens <= 0 || side * side != sourceTokens)
        {
            return; // Not a square grid after the class token: reported as a shape mismatch.
        }

        candidate["pos_embed"] = PositionEmbeddingResampler.Resample(
            have, config.GridHeight, config.GridWidth, prefix, ((int)side, (int)side));
        adaptations.Add($"pos_embed resampled from a {side}x{side} to a {config.GridHeight}x{config.GridWidth} " +
                        "patch grid (class token kept; bicubic with antialias, like timm's resample_abs_pos_embed).");
    }

    private static void AdaptInputChannels(
        Dictionary<string, long[]> expected, Dictionary<string, Tensor> candidate, CheckpointLoadOptions options,
        List<string> adaptations)
    {
        const string key = "patch_embed.proj.weight";
        if (!options.AdaptInputChannels || !expected.TryGetValue(key, out var want) ||
            !candidate.TryGetValue(key, out var have) || have.dim() != 4 || want.Length != 4 ||
            want[1] != 1 || have.shape[1] != 3 ||
            have.shape[0] != want[0] || have.shape[2] != want[2] || have.shape[3] != want[3])
        {
            return;
        }

        candidate[key] = have.sum(1, keepdim: true); // [D, 1, p, p]
        adaptations.Add($"{key} summed over its 3 input channels for a 1-channel backbone (timm's adapt_input_conv).");
    }

    private static string DescribeMismatch(
        BackboneCheckpoint checkpoint, VitConfig config, List<string> missing, List<string> unexpected,
        List<TensorShapeMismatch> mismatches, List<string> nonFloating)
    {
        var text = new StringBuilder()
            .Append($"Checkpoint '{checkpoint.Source}' ({checkpoint.Format} layout) does not fit the backbone ")
            .Append($"'{config.Name}' (EmbedDim {config.EmbedDim}, Depth {config.Depth}, PatchSize " +
                $"{config.PatchSize}, ")
            .Append($"{config.ImageHeight}x{config.ImageWidth} px, InChannels {config.InChannels}, ")
            .Append($"UseFcNorm {config.UseFcNorm}). Nothing was loaded.");
        AppendList(text, "missing keys", missing);
        AppendList(text, "unexpected keys", unexpected);
        AppendList(text, "shape mismatches", mismatches.Select(m => m.ToString()).ToList());
        AppendList(text, "integer tensors for floating-point parameters", nonFloating);

        var guess = DescribeCheckpointArchitecture(checkpoint.Tensors);
        if (guess.Length > 0)
        {
            text.Append("\nThe checkpoint looks like: ").Append(guess).Append('.');
        }

        if (missing.Any(k => k.StartsWith("norm.", StringComparison.Ordinal)) &&
            unexpected.Any(k => k.StartsWith("fc_norm.", StringComparison.Ordinal)))
        {
            text.Append("\nHint: the checkpoint pools with fc_norm (average pooling); set VitConfig.UseFcNorm = true " +
                        "and GlobalPooling = Average.");
        }
        else if (missing.Count > 0 && missing.Count * 2 >= missing.Count + unexpected.Count && unexpected.Count > 4)
        {
            text.Append("\nHint: most names differ; is the layout right? Pass the CheckpointFormat explicitly.");
        }

        return text.ToString();
    }

    private static void AppendList(StringBuilder text, string title, List<string> items)
    {
        if (items.Count == 0)
        {
            return;
        }

        text.Append($"\n{title} ({items.Count}): ").Append(string.Join(", ", items.Take(ListLimit)));
        if (items.Count > ListLimit)
        {
            text.Append($", ... and {items.Count - ListLimit} more");
        }
    }

    private static string DescribeCheckpointArchitecture(IReadOnlyDictionary<string, Tensor> tensors)
    {
        var parts = new List<string>();
        if (tensors.TryGetValue("patch_embed.proj.weight", out var patch) && patch.dim() == 4)
        {
            parts.Add($"EmbedDim {patch.shape[0]}, InChannels {patch.shape[1]}, PatchSize {patch.shape[2]}");
        }

        var depth = tensors.Keys.Select(k => BlockIndex().Match(k)).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))
            .DefaultIfEmpty(-1).Max();
        if (depth >= 0)
        {
            parts.Add($"Depth {depth + 1}");
        }

        if (tensors.TryGetValue("pos_embed", out var pos) && pos.dim() == 3)
        {
            parts.Add($"{pos.shape[1]} position rows");
        }

        return string.Join(", ", parts);
    }

    [GeneratedRegex(@"^blocks\.(\d+)\.", RegexOptions.CultureInvariant)]
    private static partial Regex BlockIndex();
}
