namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// One damaged copy of a file: the mutated bytes, the kind of damage in words, and whether the format can detect it.
/// </summary>
/// <param name="Kind">The family of damage (for counting), such as <c>bit-flip</c> or <c>zip-crc</c>.</param>
/// <param name="Description">What exactly was changed, enough to reproduce it by hand.</param>
/// <param name="Bytes">The damaged file.</param>
/// <param name="Detectable">
/// False when the format has no way to notice the change (a flipped bit inside raw safetensors or .npy data, an edit of
/// a checksummed entry whose checksum was recomputed, a consistent header edit such as swapping two same-sized tensors'
/// offsets): such a case may load with different values. True when a load that succeeds must give exactly the original
/// values (it may succeed only if the change did not matter, such as a zip timestamp).
/// </param>
/// <param name="ConfigMayChange">
/// True when the change lies in metadata text that no checksum covers (a safetensors header): a stored configuration
/// may then differ while the tensors must not.
/// </param>
internal sealed record Mutation(
    string Kind, string Description, byte[] Bytes, bool Detectable, bool ConfigMayChange = false);
