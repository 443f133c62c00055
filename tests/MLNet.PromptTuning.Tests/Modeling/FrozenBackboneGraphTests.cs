using MLNet.PromptTuning.Methods.FullFineTune;
using MLNet.PromptTuning.Methods.LinearProbe;
using MLNet.PromptTuning.Methods.Tcpa;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;
using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Tests.Modeling;

/// <summary>
/// Autograd records an operation only when one of its inputs requires a gradient. A frozen backbone with nothing
/// trainable upstream (the linear probe) therefore builds no graph in a training step, without any method-specific
/// no_grad branch: its features arrive at the head as plain tensors, and the step costs a forward pass plus the head.
/// </summary>
public sealed class FrozenBackboneGraphTests
{
    public static TheoryData<string, bool> Methods => new()
    {
        { LinearProbeOptions.Id, false },
        { VptOptions.Id, true },
        { TcpaOptions.Id, true },
        { FullFineTuneOptions.Id, true },
    };

    [Theory]
    [MemberData(nameof(Methods))]
    public void The_backbone_records_a_graph_only_when_something_upstream_trains(string method, bool expectGraph)
    {
        using var backbone = TinyModels.Backbone(depth: 2);
        PromptMethodOptions options = method switch
        {
            LinearProbeOptions.Id => new LinearProbeOptions(),
            VptOptions.Id => new VptOptions { PromptLength = 2 },
            TcpaOptions.Id => new TcpaOptions { ClassPoolSize = 4, ImagePoolSize = 4, ClassTopK = 2, ImageTopK = 2 },
            _ => new FullFineTuneOptions(),
        };
        using var model = new PromptedVisionTransformer(backbone, options, numberOfClasses: 3);
        using var scope = torch.NewDisposeScope();
        model.SetTrainingMode(true);
        Assert.True(torch.is_grad_enabled());

        var context = model.Backbone.Run(TinyModels.Images(batch: 2), model.Method, new ForwardContext(true, 0));
        var features = model.Method.SelectFeatures(context);

        Assert.Equal(expectGraph, context.Tokens.requires_grad);
        Assert.Equal(expectGraph, features.requires_grad);
        // the head trains
        Assert.True(model.Forward(TinyModels.Images(batch: 2), new ForwardContext(true, 0)).Logits.requires_grad);
    }
}
