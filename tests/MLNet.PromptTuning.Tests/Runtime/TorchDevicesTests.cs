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

    [Theory]
    [InlineData("cuda")]
    [InlineData("cuda:3")]
    public void CudaWithoutAGpuNamesTheOption(string spec)
    {
        if (torch.cuda.is_available())
        {
            return; // the message under test only exists on CPU-only machines
        }

        var e = Assert.Throws<NotSupportedException>(() => TorchDevices.Resolve(spec, "Options.Device"));
        Assert.Contains("Options.Device", e.Message);
        Assert.Contains(spec, e.Message);
        Assert.Contains("TorchBackend=cuda", e.Message);
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
