using System.Runtime.CompilerServices;
using MLNet.PromptTuning.Runtime;
using TorchSharp;

namespace MLNet.PromptTuning.Tests.Runtime;

/// <summary>
/// Fresh-process half of <see cref="TorchNativeLibraryTests"/>: touches the library (whose first-use step prepares
/// TorchSharp's native library, unless the environment turns it off), then runs one TorchSharp operation. Prints
/// <c>adjusted=&lt;path or none&gt;</c> and <c>sum=&lt;value&gt;</c>; a failed native load ends the process with an
/// unhandled exception.
/// </summary>
internal static class TorchNativeProbe
{
    public const string Command = "torch-native-probe";

    public static int Run()
    {
        Console.WriteLine($"adjusted={AdjustedPath() ?? "none"}");
        Console.WriteLine($"sum={Sum()}");
        return 0;
    }

    // Separate methods so that TorchSharp's assembly is not needed before the library's has loaded.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string? AdjustedPath() => TorchNativeLibrary.AdjustedLibraryPath;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Sum()
    {
        using var sum = torch.ones(3).sum();
        return sum.item<float>();
    }
}
