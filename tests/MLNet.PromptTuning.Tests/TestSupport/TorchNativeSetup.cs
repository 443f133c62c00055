using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;
using MLNet.PromptTuning.Runtime;

namespace MLNet.PromptTuning.Tests.TestSupport;

/// <summary>
/// Several tests call TorchSharp before they touch the library, and TorchSharp loads its native library once, in a
/// static constructor. Preparing it when the test assembly loads keeps the outcome independent of test order.
/// When the assembly runs as a program (the fresh processes of Program.cs), this is skipped: there the library's own
/// first-use step must do the work, as in a user's application.
/// </summary>
internal static class TorchNativeSetup
{
    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255", Justification = "Test assembly set-up, before any test touches TorchSharp.")]
    internal static void PrepareTorchSharp()
    {
        if (Assembly.GetEntryAssembly() != typeof(TorchNativeSetup).Assembly)
        {
            Prepare();
        }
    }

    // Apart, so that the library's assembly is not even loaded when this is skipped.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Prepare() => TorchNativeLibrary.EnsureLoaded();
}
