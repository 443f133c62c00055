using Xunit;

// libtorch's random generator and thread settings are process-wide: tests that seed it must not interleave with
// others, and on two cores parallel test classes would only compete for the same threads.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

// The test-only ML.NET transformer uses the same ML.NET internals as the library's Interop/ (the attribute type is the
// library's, visible here through InternalsVisibleTo; the runtime recognises it by name).
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Core")]
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Data")]
