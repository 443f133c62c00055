namespace MLNet.PromptTuning.Checkpoints;

/// <summary>What a <c>.npy</c> reader knows about the bytes available to one array (header included).</summary>
/// <param name="Limit">The most bytes the array may occupy; null when unknown (a stream that cannot seek).</param>
/// <param name="BytesPresent">
/// Whether <paramref name="Limit"/> bytes are really there (a file's length, a stored zip entry) rather than only
/// declared (a deflated entry's recorded size): only then is the tensor allocated before its bytes arrive.
/// </param>
/// <param name="Exact">Whether the array must fill <paramref name="Limit"/> exactly (a whole file or entry).</param>
internal readonly record struct NpyExtent(long? Limit, bool BytesPresent, bool Exact)
{
    /// <summary>Nothing is known about the stream's length.</summary>
    public static NpyExtent Unknown => new(null, BytesPresent: false, Exact: false);

    /// <summary><paramref name="length"/> bytes are physically present.</summary>
    public static NpyExtent Present(long length, bool exact) => new(length, BytesPresent: true, exact);

    /// <summary><paramref name="length"/> bytes are declared (and bounded), and the array must fill them.</summary>
    public static NpyExtent Declared(long length) => new(length, BytesPresent: false, Exact: true);
}
