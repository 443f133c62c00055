namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// One thing to fuzz: a seed file, how to damage it, and the public loading call whose behaviour is judged. Adding a
/// format is one more <see cref="FuzzTarget"/> in <see cref="FuzzTargets"/>: a seed, a mutator
/// (<see cref="ZipMutations"/> for a zip), and a load function.
/// </summary>
/// <param name="Name">A unique name, used on the child's command line.</param>
/// <param name="Format">The format family the counts are reported under (safetensors, npy, npz, pth, ...).</param>
/// <param name="Seed">Produces the undamaged file's bytes (a fixture, or a file written by the library).</param>
/// <param name="Mutate">Produces one damaged copy from a seeded random source and the seed bytes.</param>
/// <param name="Load">
/// Loads a file through the public API and digests what was loaded; it throws whatever the API throws. For a format
/// made of several files (the adapter folder), it may put the undamaged siblings beside the damaged file first.
/// </param>
/// <param name="FileName">
/// The name the damaged file is given in the child's folder (for example an adapter manifest's fixed name); by
/// default <c>case</c> with the format's extension.
/// </param>
/// <param name="DocumentedArgument">
/// The parameter of the load call whose <see cref="ArgumentException"/> is a documented refusal (LoadAdapter's
/// <c>backbone</c>: a manifest naming another architecture or fingerprint is refused that way); by default none, and
/// any <see cref="ArgumentException"/> other than a <c>CheckpointMismatchException</c> is undocumented.
/// </param>
internal sealed record FuzzTarget(
    string Name,
    string Format,
    Func<byte[]> Seed,
    Func<Random, byte[], Mutation> Mutate,
    Func<string, LoadDigest> Load,
    string? FileName = null,
    string? DocumentedArgument = null);

/// <summary>What a successful load produced, as two digests: the tensors' bytes and any stored configuration.</summary>
/// <param name="Tensors">SHA-256 over every loaded tensor's name, dtype, shape and bytes.</param>
/// <param name="Config">SHA-256 of the configuration read from the file (empty when there is none).</param>
internal readonly record struct LoadDigest(string Tensors, string Config);
