using MLNet.PromptTuning.Runtime;
using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Tests.Runtime;

public sealed class TorchDevicesTests
{
    [Theory]
    [InlineData("cpu")]
    [InlineData(" CPU ")]
    public void CpuIsAlwaysAvailable(string spec)
    {
        Assert.Equal(DeviceType.CPU, TorchDevices.Resolve(spec).type);
    }

    [Fact]
    public void AutoPicksCudaOnlyWhenPresent()
    {
        var expected = torch.cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU;
        Assert.Equal(expected, TorchDevices.Resolve("auto").type);
        Assert.Equal(expected, TorchDevices.Resolve(null).type);
    }

    [Fact]
    public void UnavailableCudaDevicesAreRefusedWithTheOptionNamed()
    {
        // Both branches assert: CPU-only machines refuse every CUDA device; GPU machines accept the visible ones
        // and refuse the first index past them.
        if (!torch.cuda.is_available())
        {
            foreach (string spec in new[] { "cuda", "cuda:3" })
            {
                var e = Assert.Throws<NotSupportedException>(() => TorchDevices.Resolve(spec, "Options.Device"));
                Assert.Contains("Options.Device", e.Message);
                Assert.Contains(spec, e.Message);
                Assert.Contains("TorchBackend=cuda", e.Message);
            }

            return;
        }

        Assert.Equal(DeviceType.CUDA, TorchDevices.Resolve("cuda", "Options.Device").type);
        int count = torch.cuda.device_count();
        string beyond = $"cuda:{count}";
        var error = Assert.Throws<NotSupportedException>(() => TorchDevices.Resolve(beyond, "Options.Device"));
        Assert.Contains("Options.Device", error.Message);
        Assert.Contains(beyond, error.Message);
        Assert.Contains($"{count} CUDA device(s)", error.Message);
    }

    [Theory]
    [InlineData("tpu")]
    [InlineData("cuda:x")]
    [InlineData("cuda:-1")]
    public void UnknownDevicesAreRejected(string spec)
    {
        var e = Assert.Throws<ArgumentException>(() => TorchDevices.Resolve(spec));
        Assert.Contains($"'{spec}'", e.Message);
        Assert.Contains("'cuda:N'", e.Message);
    }
}
