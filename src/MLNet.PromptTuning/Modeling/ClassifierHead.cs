using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Modeling;

/// <summary>Creates the linear classification head with the VPT codebase's initialisation.</summary>
internal static class ClassifierHead
{
    /// <summary>The bias that makes every class start at probability 0.01 under a sigmoid: -ln((1 - 0.01) / 0.01).</summary>
    public const double PriorBias = -4.59511985013459;

    /// <summary>Linear(D, C) with Kaiming-normal fan-out weights (std sqrt(2 / C)) and the prior bias.</summary>
    public static Linear Create(int featureDim, int numberOfClasses)
    {
        var head = nn.Linear(featureDim, numberOfClasses);
        using var noGrad = torch.no_grad();
        nn.init.normal_(head.weight!, 0, Math.Sqrt(2.0 / numberOfClasses));
        nn.init.constant_(head.bias!, PriorBias);
        return head;
    }
}
