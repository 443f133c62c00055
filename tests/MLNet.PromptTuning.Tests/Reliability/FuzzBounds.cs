namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// The limits every fuzz case is held to. Memory is bounded relative to the damaged file's size: whatever a file
/// declares, loading it may take at most these amounts (the fixtures are 2-45 KB, so the constants dominate; the
/// findings they catch were hundreds of megabytes to terabytes).
/// </summary>
internal static class FuzzBounds
{
    /// <summary>The longest a case may run before it counts as a hang.</summary>
    public static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Managed bytes allocated by the load: 16 × the file + 16 MB.</summary>
    public static long Managed(long fileBytes) => (16 * fileBytes) + (16L << 20);

    /// <summary>The largest tensor a reader allocates to read into: 2 × the file + 16 MB.</summary>
    public static long Tensor(long fileBytes) => (2 * fileBytes) + (16L << 20);

    /// <summary>Growth of the peak resident size during the load: 16 × the file + 64 MB.</summary>
    public static long Resident(long fileBytes) => (16 * fileBytes) + (64L << 20);
}
