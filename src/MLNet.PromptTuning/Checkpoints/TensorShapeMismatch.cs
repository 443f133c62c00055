namespace MLNet.PromptTuning.Checkpoints;

/// <summary>A checkpoint tensor whose shape differs from the backbone's parameter of the same name.</summary>
/// <param name="Key">The timm name.</param>
/// <param name="Expected">The backbone's shape.</param>
/// <param name="Actual">The checkpoint's shape.</param>
public sealed record TensorShapeMismatch(string Key, IReadOnlyList<long> Expected, IReadOnlyList<long> Actual)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{Key}: expected [{string.Join(", ", Expected)}], checkpoint has [{string.Join(", ", Actual)}]";
}
