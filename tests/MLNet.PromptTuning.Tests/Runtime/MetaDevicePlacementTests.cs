using System.Runtime.InteropServices;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Tests.Methods;
using MLNet.PromptTuning.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Runtime;

/// <summary>
/// Device placement checked without a GPU, on libtorch's <c>meta</c> device (shapes, no data). What it covers: every
/// method's model moves to a second device whole, every tensor of its state and every parameter the optimiser gets
/// landing there. This is how moving a model to another device was found to throw in TorchSharp 0.107 whenever the
/// model held a <c>ModuleDict</c> (now <c>Runtime/KeyedModules</c>): the GPU path would have failed on first use.
/// What it cannot cover: the forward pass. The C++ libtorch that TorchSharp ships lacks meta kernels for the ops a
/// ViT needs (the patch embedding's convolution, layer norm, the FFT of TCPA's Fourier prompts; PyTorch registers
/// most of them in Python), so a tensor created on the wrong device inside the forward is still found only on a GPU.
/// </summary>
public sealed class MetaDevicePlacementTests
{
    private static readonly Device Meta = torch.device("meta");

    [Theory]
    [MemberData(nameof(MethodCases.Names), MemberType = typeof(MethodCases))]
    public void EveryMethodsModelMovesWholeToASecondDevice(string name)
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, MethodCases.Create(name), 4);

        model.MoveTo(Meta);

        Assert.All(model.state_dict(), kv => Assert.Equal(DeviceType.META, kv.Value.device_type));
        // A shared backbone goes with the model; full fine-tuning trains a private copy and leaves the caller's alone.
        var callersDevice = model.OwnsBackbone ? DeviceType.CPU : DeviceType.META;
        Assert.All(backbone.state_dict(), kv => Assert.Equal(callersDevice, kv.Value.device_type));
        Assert.All(model.GetParameterGroups().SelectMany(g => g.Parameters),
            p => Assert.Equal(DeviceType.META, p.device_type));
    }

    [Fact]
    public void TheForwardPassHasNoMetaKernelsInThisLibtorch()
    {
        // If this starts to pass, libtorch gained the kernels: extend the test above to a training step on meta.
        using var model = new PromptedVisionTransformer(TinyModels.Backbone(), MethodCases.Create("vpt-deep"), 4,
            ownsBackbone: true);
        model.MoveTo(Meta);
        using var images = torch.empty(new long[] { 4, 3, 16, 16 }, device: Meta);

        var error = Assert.Throws<ExternalException>(() => model.Forward(images, ForwardContext.Inference));
        Assert.Contains("not implemented", error.Message);
    }
}
