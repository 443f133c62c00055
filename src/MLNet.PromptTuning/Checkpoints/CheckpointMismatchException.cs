namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// A checkpoint that does not fit the backbone's configuration: tensors the backbone needs are missing, tensors it
/// does not have are present, shapes differ, or an integer tensor is given for a floating-point parameter. Nothing has
/// been loaded when this is thrown. It is an
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
        : this(message, missingKeys, unexpectedKeys, shapeMismatches, [])
    {
    }

    /// <summary>Creates the exception with its lists, including parameters given an integer tensor.</summary>
    public CheckpointMismatchException(
        string message,
        IReadOnlyList<string> missingKeys,
        IReadOnlyList<string> unexpectedKeys,
        IReadOnlyList<TensorShapeMismatch> shapeMismatches,
        IReadOnlyList<string> nonFloatingKeys)
        : base(message)
    {
        MissingKeys = missingKeys;
        UnexpectedKeys = unexpectedKeys;
        ShapeMismatches = shapeMismatches;
        NonFloatingKeys = nonFloatingKeys;
    }

    /// <summary>Backbone parameters the checkpoint does not provide (timm names).</summary>
    public IReadOnlyList<string> MissingKeys { get; }

    /// <summary>Checkpoint tensors (after key mapping) that the backbone does not have.</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; }

    /// <summary>Tensors present on both sides with different shapes.</summary>
    public IReadOnlyList<TensorShapeMismatch> ShapeMismatches { get; }

    /// <summary>
    /// Floating-point parameters for which the checkpoint has an integer or boolean tensor (with its dtype), which
    /// would otherwise be converted silently.
    /// </summary>
    public IReadOnlyList<string> NonFloatingKeys { get; }
}
