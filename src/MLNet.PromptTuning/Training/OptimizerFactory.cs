using TorchSharp;
using TorchSharp.Modules;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// Builds TorchSharp's AdamW / SGD with one optimiser group per <see cref="ParameterGroup"/>, sets per-step learning
/// rates, and reads or writes the optimiser state as named tensors (device-safe, unlike the stream format, which
/// recreates SGD momentum on the CPU).
/// </summary>
internal static class OptimizerFactory
{
    /// <summary>The optimiser over <paramref name="groups"/> at base rate <paramref name="learningRate"/>.</summary>
    public static OptimizerHelper Create(TrainingOptions options, double learningRate,
        IReadOnlyList<ParameterGroup> groups)
    {
        switch (options.Optimizer)
        {
            case OptimizerKind.AdamW:
                var adamGroups = groups.Select(g => new AdamW.ParamGroup(
                    g.Parameters.ToArray(),
                    lr: learningRate * g.LearningRateScale,
                    beta1: options.AdamBeta1,
                    beta2: options.AdamBeta2,
                    eps: options.AdamEpsilon,
                    weight_decay: g.ApplyWeightDecay ? options.WeightDecay : 0.0)).ToArray();
                return torch.optim.AdamW(
                    adamGroups, learningRate, options.AdamBeta1, options.AdamBeta2, options.AdamEpsilon, 0.0);
            case OptimizerKind.Sgd:
                var sgdGroups = groups.Select(g => new SGD.ParamGroup(
                    g.Parameters.ToArray(),
                    lr: learningRate * g.LearningRateScale,
                    momentum: options.Momentum,
                    dampening: 0.0,
                    weight_decay: g.ApplyWeightDecay ? options.WeightDecay : 0.0,
                    nesterov: false)).ToArray();
                return torch.optim.SGD(sgdGroups, learningRate, options.Momentum);
            default:
                throw new NotSupportedException($"Optimizer {options.Optimizer} is not supported; use AdamW or Sgd.");
        }
    }

    /// <summary>Sets every group's rate to <paramref name="baseRate"/> times the group's scale.</summary>
    public static void SetLearningRate(torch.optim.Optimizer optimizer, IReadOnlyList<ParameterGroup> groups,
        double baseRate)
    {
        int i = 0;
        foreach (var controller in optimizer.ParamGroups)
        {
            controller.LearningRate = baseRate * groups[i++].LearningRateScale;
        }
    }

    /// <summary>Adds the optimiser state to <paramref name="tensors"/> (as CPU copies) and returns the per-parameter
    /// step counters.</summary>
    public static long[] SaveState(OptimizerHelper optimizer, IDictionary<string, torch.Tensor> tensors)
    {
        var states = optimizer.state_dict().State;
        var steps = new long[states.Count];
        for (int i = 0; i < states.Count; i++)
        {
            switch (states[i])
            {
                case AdamW.State adam:
                    steps[i] = adam.step;
                    tensors[$"optim/{i}/exp_avg"] = adam.exp_avg.detach().cpu().clone();
                    tensors[$"optim/{i}/exp_avg_sq"] = adam.exp_avg_sq.detach().cpu().clone();
                    break;
                case SGD.State sgd:
                    if (sgd.momentum_buffer is not null)
                    {
                        tensors[$"optim/{i}/momentum"] = sgd.momentum_buffer.detach().cpu().clone();
                    }

                    break;
                default:
                    throw new NotSupportedException(
                        $"Optimizer state {states[i].GetType().Name} cannot be checkpointed.");
            }
        }

        return steps;
    }

    /// <summary>Restores what <see cref="SaveState"/> wrote, onto the device of each parameter.</summary>
    public static void LoadState(OptimizerHelper optimizer, IReadOnlyDictionary<string, torch.Tensor> tensors,
        long[] steps)
    {
        var states = optimizer.state_dict().State;
        if (steps.Length != states.Count)
        {
            throw new InvalidDataException(
                $"The checkpoint's optimiser state covers {steps.Length} parameters; the optimiser has " +
                $"{states.Count}.");
        }

        using var noGrad = torch.no_grad();
        for (int i = 0; i < states.Count; i++)
        {
            switch (states[i])
            {
                case AdamW.State adam:
                    adam.step = steps[i];
                    CopyInto(adam.exp_avg, Require(tensors, $"optim/{i}/exp_avg"));
                    CopyInto(adam.exp_avg_sq, Require(tensors, $"optim/{i}/exp_avg_sq"));
                    break;
                case SGD.State sgd:
                    if (tensors.TryGetValue($"optim/{i}/momentum", out var momentum))
                    {
                        var device = optimizer.parameters().ElementAt(i).device;
                        var restored = momentum.to(device, copy: true).DetachFromDisposeScope();
                        sgd.momentum_buffer?.Dispose();
                        sgd.momentum_buffer = restored;
                    }
                    else
                    {
                        sgd.momentum_buffer?.Dispose();
                        sgd.momentum_buffer = null;
                    }

                    break;
                default:
                    throw new NotSupportedException($"Optimizer state {states[i].GetType().Name} cannot be restored.");
            }
        }
    }

    private static torch.Tensor Require(IReadOnlyDictionary<string, torch.Tensor> tensors, string name) =>
        tensors.TryGetValue(name, out var t) ? t
            : throw new InvalidDataException($"The checkpoint lacks tensor '{name}'.");

    private static void CopyInto(torch.Tensor target, torch.Tensor source)
    {
        if (!target.shape.SequenceEqual(source.shape))
        {
            throw new InvalidDataException(
                $"Optimiser state shape [{string.Join(", ", source.shape)}] does not match " +
                $"[{string.Join(", ", target.shape)}].");
        }

        target.copy_(source);
    }
}
