using Xunit;

// libtorch's random generator and thread settings are process-wide: tests that seed it must not interleave.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
