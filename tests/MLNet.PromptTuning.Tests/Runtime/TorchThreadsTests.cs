using MLNet.PromptTuning.Runtime;
using MLNet.PromptTuning.Tests.Training;
using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Tests.Runtime;

// Changes process-wide state, so it runs with the other bit-comparing tests, alone.
[Collection(TorchTrainingCollection.Name)]
public sealed class TorchThreadsTests
{
    [Fact]
    public void SetsTheThreadCountOnlyWhenAsked()
    {
        var original = torch.get_num_threads();
        try
        {
            Assert.Equal(original, TorchThreads.Configure(null));
            Assert.Equal(1, TorchThreads.Configure(1));
            Assert.Equal(1, torch.get_num_threads());
        }
        finally
        {
            torch.set_num_threads(original);
        }

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TorchThreads.Configure(0));
        Assert.Equal("NumberOfThreads", e.ParamName);
        Assert.Equal(original, torch.get_num_threads());
    }
}
