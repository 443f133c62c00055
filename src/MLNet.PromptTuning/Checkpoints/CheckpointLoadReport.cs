using System.Text;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>What happened when a checkpoint was loaded into a backbone.</summary>
public sealed record CheckpointLoadReport
{
    /// <summary>The checkpoint file.</summary>
    public required string Source { get; init; }

    /// <summary>The layout the tensors were read as (detected when <see cref="CheckpointFormat.Auto"/> was
    /// asked).</summary>
    public required CheckpointFormat Format { get; init; }

    /// <summary>Every backbone parameter that was filled (timm names); always all of them.</summary>
    public required IReadOnlyList<string> LoadedKeys { get; init; }

    /// <summary>
    /// Changes made so the checkpoint fits, in words (for example a resampled <c>pos_embed</c> or an <c>fc_norm</c>
    /// taken from <c>norm</c>). Empty when the checkpoint fitted as is.
    /// </summary>
    public required IReadOnlyList<string> Adaptations { get; init; }

    /// <summary>Source keys deliberately not used (pre-logits, pooler, projector, momentum encoder,
    /// decoder...).</summary>
    public required IReadOnlyList<string> IgnoredKeys { get; init; }

    /// <summary>
    /// Shapes of the classifier head tensors found in the checkpoint (<c>head.weight</c>, <c>head.bias</c>), which are
    /// never loaded into the backbone; read them from <see cref="BackboneCheckpoint.HeadTensors"/>.
    /// </summary>
    public required IReadOnlyDictionary<string, IReadOnlyList<long>> HeadShapes { get; init; }

    /// <summary>Remarks that need no action from the library but may matter to the user (for example a zeroed
    /// head).</summary>
    public required IReadOnlyList<string> Notes { get; init; }

    /// <inheritdoc />
    public override string ToString()
    {
        var text = new StringBuilder()
            .Append($"Loaded {LoadedKeys.Count} tensors from '{Source}' ({Format} layout).");
        foreach (var adaptation in Adaptations)
        {
            text.Append("\n  adapted: ").Append(adaptation);
        }

        if (IgnoredKeys.Count > 0)
        {
            text.Append($"\n  ignored {IgnoredKeys.Count} tensor(s): ").Append(string.Join(", ", IgnoredKeys.Take(10)));
            if (IgnoredKeys.Count > 10)
            {
                text.Append(", ...");
            }
        }

        foreach (var (key, shape) in HeadShapes)
        {
            text.Append($"\n  head tensor {key} [{string.Join(", ", shape)}] returned separately");
        }

        foreach (var note in Notes)
        {
            text.Append("\n  note: ").Append(note);
        }

        return text.ToString();
    }
}
