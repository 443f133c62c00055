using MLNet.PromptTuning.Backbones;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Modeling;

/// <summary>Creates the linear classification head.</summary>
internal static class ClassifierHead
{
    /// <summary>The bias that makes every class start at probability 0.01 under a sigmoid: -ln((1 - 0.01) /
    /// 0.01).</summary>
    public const double PriorBias = -4.59511985013459;

    /// <summary>Standard deviation of <see cref="HeadInitialization.SmallTruncatedNormal"/>.</summary>
    public const double SmallStd = 0.02;

    /// <summary>Linear(D, C) initialised as <paramref name="initialization"/> says.</summary>
    public static Linear Create(int featureDim, int numberOfClasses, HeadInitialization initialization)
    {
        var head = nn.Linear(featureDim, numberOfClasses);
        using var noGrad = torch.no_grad();
        switch (initialization)
        {
            case HeadInitialization.SmallTruncatedNormal:
                TruncatedNormal.Fill(head.weight!, SmallStd);
                head.bias!.zero_();
                break;
            case HeadInitialization.VptKaimingFanOut:
                nn.init.normal_(head.weight!, 0, Math.Sqrt(2.0 / numberOfClasses));
                nn.init.constant_(head.bias!, PriorBias);
                break;
            default:
                head.Dispose();
                throw new ArgumentOutOfRangeException(nameof(initialization), initialization,
                    "Unknown head initialisation.");
        }

        return head;
    }
}
