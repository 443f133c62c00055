using System.Globalization;
using TorchSharp;

namespace MLNet.PromptTuning.Runtime;

/// <summary>Parses the user-facing device string (<c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>) into a torch
/// device.</summary>
internal static class TorchDevices
{
    /// <summary>
    /// Resolves <paramref name="specification"/>: <c>auto</c> picks the first CUDA device when the CUDA backend is
    /// present and a GPU is visible, otherwise the CPU.
    /// </summary>
    /// <param name="specification">The device string, case-insensitive.</param>
    /// <param name="optionName">The option the string came from, named in error messages.</param>
    /// <exception cref="ArgumentException">The string is not one of the accepted forms.</exception>
    /// <exception cref="NotSupportedException">CUDA was asked for but is not available, or the index is out of
    /// range.</exception>
    public static torch.Device Resolve(string? specification, string optionName = "Device")
    {
        var spec = (specification ?? "auto").Trim().ToLowerInvariant();
        switch (spec)
        {
            case "" or "auto":
                return IsCudaAvailable() ? torch.CUDA : torch.CPU;
            case "cpu":
                return torch.CPU;
            case "cuda" or "gpu":
                RequireCuda(specification!, optionName, 0);
                return torch.CUDA;
        }

        if (spec.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(spec.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
        {
            RequireCuda(specification!, optionName, index);
            return torch.device(DeviceType.CUDA, index);
        }

        throw new ArgumentException(
            $"{optionName} '{specification}' is not recognised; expected 'auto', 'cpu', 'cuda' or 'cuda:N' (N = GPU " +
            $"index).",
            optionName);
    }

    /// <summary>True when the loaded libtorch backend has CUDA and sees at least one GPU.</summary>
    public static bool IsCudaAvailable()
    {
        try
        {
            return torch.cuda.is_available();
        }
        catch (Exception e) when (
            e is TypeInitializationException or DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    private static void RequireCuda(string specification, string optionName, int index)
    {
        if (!IsCudaAvailable())
        {
            throw new NotSupportedException(
                $"{optionName} is '{specification}' but CUDA is not available: the process loaded a CPU-only " +
                $"libtorch " +
                "or no GPU is visible. Build the application with the CUDA backend (-p:TorchBackend=cuda) on a " +
                $"machine with an NVIDIA driver, or set {optionName} to 'auto' or 'cpu'.");
        }

        var count = torch.cuda.device_count();
        if (index >= count)
        {
            throw new NotSupportedException(
                $"{optionName} is '{specification}' but only {count} CUDA device(s) are visible (valid indices " +
                $"0..{count - 1}).");
        }
    }
}
