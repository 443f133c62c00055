using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using MLNet.PromptTuning.Runtime;

namespace MLNet.PromptTuning.Tests.TestSupport;

/// <summary>
/// Several tests call TorchSharp before they touch the library, and TorchSharp loads its native library once, in a
/// static constructor. Preparing it when the test assembly loads keeps the outcome independent of test order.
/// </summary>
internal static class TorchNativeSetup
{
    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255", Justification = "Test assembly set-up, before any test touches TorchSharp.")]
    internal static void PrepareTorchSharp() => TorchNativeLibrary.EnsureLoaded();
}
