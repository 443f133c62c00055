using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Prompting;

/// <summary>The read-only views of frozen self-attention weights that methods may use in every pass.</summary>
public sealed class AttentionWeightViewTests
{
    [Fact]
    public void ViewsEqualCopiesAndShareTheBackbonesStorage()
    {
        using var backbone = TinyModels.Backbone();
        using var scope = torch.NewDisposeScope();
        var copy = backbone.Description.GetAttentionWeights(1);
        var view = backbone.Description.ViewAttentionWeights(1);
        Assert.True(TinyModels.Same(copy.QkvWeight, view.QkvWeight));
        Assert.True(TinyModels.Same(copy.QkvBias!, view.QkvBias!));
        Assert.True(TinyModels.Same(copy.ProjWeight, view.ProjWeight));
        Assert.True(TinyModels.Same(copy.ProjBias, view.ProjBias));
        Assert.False(view.QkvWeight.requires_grad);

        // A change to the backbone shows through the view (same storage) but not through the copy.
        var qkv = backbone.state_dict()["blocks.1.attn.qkv.weight"];
        using (torch.no_grad())
        {
            qkv.add_(1);
        }

        Assert.True(TinyModels.Same(view.QkvWeight, qkv));
        Assert.False(TinyModels.Same(copy.QkvWeight, qkv));
    }

    [Fact]
    public void ViewsFollowTheBackbonesPrecisionAndRejectBadLayers()
    {
        using var backbone = TinyModels.Backbone();
        backbone.to(ScalarType.BFloat16);
        using var scope = torch.NewDisposeScope();
        Assert.Equal(ScalarType.BFloat16, backbone.Description.ViewAttentionWeights(0).ProjWeight.dtype);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => backbone.Description.ViewAttentionWeights(3));
        Assert.Contains("[0, 2]", error.Message);
    }
}
