namespace MLNet.PromptTuning.Prompting;

/// <summary>
/// What a prompt-tuned model trains and how its backbone runs while training. The head always trains, and so do the
/// method's own parameters (its prompts); the scope decides whether the backbone's own weights train too and whether
/// its blocks use stochastic depth in training passes. Full fine-tuning is the preset <see cref="FullFineTuning"/>
/// with no prompts (method id <c>full</c>), and a linear probe is <see cref="PromptsAndHead"/> with no prompts.
/// </summary>
/// <remarks>
/// A method's options propose the scope they need (<see cref="PromptMethodOptions.Scope"/>); the model applies it and
/// never asks the method itself. A scope that trains the backbone gives the model a private copy, so a backbone
/// shared by several models is never modified, and saved models and adapters carry that trained copy.
/// </remarks>
/// <param name="TrainsBackbone">Whether the backbone's own weights train (full fine-tuning).</param>
/// <param name="BackboneStochasticDepthRate">Stochastic depth of the backbone's attention and MLP branches in training
/// passes, rising linearly from 0 at the first block to this value at the last (as timm's <c>drop_path_rate</c>);
/// 0 turns it off. Range [0, 1).</param>
public sealed record TuningScope(bool TrainsBackbone = false, double BackboneStochasticDepthRate = 0)
{
    /// <summary>The default: prompts and head train; the backbone is frozen and runs without stochastic
    /// depth.</summary>
    public static TuningScope PromptsAndHead { get; } = new();

    /// <summary>Full fine-tuning: every backbone weight trains, with the given stochastic depth.</summary>
    /// <param name="stochasticDepthRate">Stochastic-depth rate at the last block; range [0, 1).</param>
    public static TuningScope FullFineTuning(double stochasticDepthRate = 0) => new(true, stochasticDepthRate);

    /// <summary>Throws an <see cref="ArgumentOutOfRangeException"/> when the stochastic-depth rate is outside [0,
    /// 1).</summary>
    public void Validate() => Training.OptionChecks.InRange(nameof(TuningScope), nameof(BackboneStochasticDepthRate),
        BackboneStochasticDepthRate, 0, 1, maxInclusive: false);

    /// <summary>The stochastic-depth rate of block <paramref name="layer"/> of <paramref name="depth"/> in a
    /// pass.</summary>
    public double StochasticDepthAt(int layer, int depth, bool training)
    {
        if (!training || BackboneStochasticDepthRate <= 0)
        {
            return 0;
        }

        return depth > 1 ? BackboneStochasticDepthRate * layer / (depth - 1) : BackboneStochasticDepthRate;
    }
}
