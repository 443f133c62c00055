using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNet.PromptTuning.Runtime;
using TorchSharp;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// Chooses the device the way ML.NET's own TorchSharp trainers do: <c>auto</c> means the MLContext's
/// <c>GpuDeviceId</c> when it is set and CUDA is available, otherwise the CPU (an error when the context set
/// <c>FallbackToCpu = false</c>). Explicit devices (<c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>) are taken as given.
/// </summary>
internal static class DeviceSelection
{
    public static torch.Device Resolve(string device, IHostEnvironment environment, string optionName = "Device")
    {
        if (!string.Equals(device?.Trim(), "auto", StringComparison.OrdinalIgnoreCase))
        {
            return TorchDevices.Resolve(device, optionName);
        }

        int? gpu = MLNetEnvironment.GetGpuDeviceId(environment);
        if (gpu is null)
        {
            return torch.CPU;
        }

        if (TorchDevices.IsCudaAvailable())
        {
            return torch.CUDA.index == gpu ? torch.CUDA : new torch.Device(DeviceType.CUDA, gpu.Value);
        }

        if (!MLNetEnvironment.GetFallbackToCpu(environment))
        {
            throw new InvalidOperationException(
                $"MLContext.GpuDeviceId is {gpu} and FallbackToCpu is false, but CUDA is not available. Build the " +
                $"application " +
                "with -p:TorchBackend=cuda on a machine with an NVIDIA GPU, or allow the CPU fallback.");
        }

        return torch.CPU;
    }

    /// <summary>The engine's spelling of a resolved device (<c>cpu</c> or <c>cuda:N</c>).</summary>
    public static string ToEngineDevice(torch.Device device) =>
        device.type == DeviceType.CUDA ? $"cuda:{Math.Max(0, (int)device.index)}" : "cpu";
}
