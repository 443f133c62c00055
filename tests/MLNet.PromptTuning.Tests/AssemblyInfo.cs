using Xunit;

// libtorch's random generator and thread settings are process-wide: tests that seed it must not interleave with
// others, and on two cores parallel test classes would only compete for the same threads.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
