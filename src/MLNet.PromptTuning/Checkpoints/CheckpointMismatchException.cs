namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// A checkpoint that does not fit the backbone's configuration: tensors the backbone needs are missing, tensors it
/// does not have are present, or shapes differ. Nothing has been loaded when this is thrown. It is an
/// <see cref="ArgumentException"/>: the checkpoint given does not fit the backbone given.
/// </summary>
public sealed class CheckpointMismatchException : ArgumentException
{
    /// <summary>Creates the exception with the lists it reports.</summary>
    public CheckpointMismatchException(
        string message,
        IReadOnlyList<string> missingKeys,
        IReadOnlyList<string> unexpectedKeys,
        IReadOnlyList<TensorShapeMismatch> shapeMismatches)
        : base(message)
    {
        MissingKeys = missingKeys;
        UnexpectedKeys = unexpectedKeys;
        ShapeMismatches = shapeMismatches;
    }

    /// <summary>Backbone parameters the checkpoint does not provide (timm names).</summary>
    public IReadOnlyList<string> MissingKeys { get; }

    /// <summary>Checkpoint tensors (after key mapping) that the backbone does not have.</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; }

    /// <summary>Tensors present on both sides with different shapes.</summary>
    public IReadOnlyList<TensorShapeMismatch> ShapeMismatches { get; }
}
