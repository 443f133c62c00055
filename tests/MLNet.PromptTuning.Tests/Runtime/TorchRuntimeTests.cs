using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Tests.Runtime;

public sealed class TorchRuntimeTests
{
    [Fact]
    public void NativeRuntimeLoadsAndRunsAnOperation()
    {
        using var a = torch.tensor(new float[] { 1, 2, 3, 4 }, new long[] { 2, 2 });
        using var product = torch.matmul(a, a);
        Assert.Equal(new float[] { 7, 10, 15, 22 }, product.data<float>().ToArray());
    }
}
