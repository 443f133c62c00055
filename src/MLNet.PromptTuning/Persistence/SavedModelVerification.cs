namespace MLNet.PromptTuning.Persistence;

/// <summary>
/// Whether loading a saved PromptViT model checks its weights against the digests stored with them (the default),
/// and the check itself. ML.NET's <c>Model.Load</c> gives a loader no options, so the one way to turn the check off,
/// <see cref="ModelFileOperations.Load(Microsoft.ML.ModelOperationsCatalog, string, out Microsoft.ML.DataViewSchema,
/// bool)"/> with <c>verifyIntegrity: false</c>, sets a flag that flows with the calling thread's async context only.
/// </summary>
internal static class SavedModelVerification
{
    private static readonly AsyncLocal<bool> Skipped = new();

    /// <summary>True unless the current load asked not to verify.</summary>
    public static bool IsEnabled => !Skipped.Value;

    /// <summary>Turns verification off for loads on this async flow until the returned scope is disposed.</summary>
    public static IDisposable Skip()
    {
        var previous = Skipped.Value;
        Skipped.Value = true;
        return new Restore(previous);
    }

    /// <summary>Throws when the digest of what was loaded differs from the one stored at save time.</summary>
    /// <param name="what">The part of the model, e.g. "backbone weights".</param>
    /// <param name="stored">The digest written at save time.</param>
    /// <param name="loaded">The digest of the values read back.</param>
    /// <exception cref="InvalidDataException">The digests differ.</exception>
    public static void Check(string what, string stored, string loaded)
    {
        if (!string.Equals(stored, loaded, StringComparison.Ordinal))
        {
            throw new InvalidDataException(
                $"The saved PromptViT model's {what} differ from what was saved: the model stores digest {stored} " +
                $"but the values read back have digest {loaded}. The model file is damaged or was edited; load an " +
                "intact copy (or pass verifyIntegrity: false to ModelFileOperations.Load to load it anyway).");
        }
    }

    private sealed class Restore(bool previous) : IDisposable
    {
        public void Dispose() => Skipped.Value = previous;
    }
}
