using TorchSharp;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// Writes a <see cref="TrainingRun"/> to its checkpoint directory after an epoch and puts it back on resume:
/// parameters, optimiser state, the three random generators (global, shuffle, augmentation), history and early
/// stopping, so a resumed run continues bit for bit where the interrupted one stopped.
/// </summary>
internal static class TrainingCheckpointer
{
    private const string ParameterPrefix = "param/";
    private const string GlobalRng = "rng/global";
    private const string ShuffleRng = "rng/shuffle";
    private const string AugmentRng = "rng/augment";

    public static void Write(TrainingRun run, string directory)
    {
        // The scope collects the temporary views; the checkpoint owns (and disposes) the copies it writes.
        using var scope = torch.NewDisposeScope();
        var stopping = run.EarlyStopping;
        using var checkpoint = new TrainingCheckpoint
        {
            Meta = new TrainingCheckpoint.Header
            {
                Fingerprint = new Dictionary<string, string>(run.Fingerprint, StringComparer.Ordinal),
                EpochsCompleted = run.EpochsCompleted,
                History = run.History.ToList(),
                BestEpoch = stopping.BestEpoch,
                BestAccuracy = stopping.BestAccuracy,
                EpochsWithoutImprovement = stopping.EpochsWithoutImprovement,
                Stopped = stopping.Stopped,
                ParameterNames = run.Parameters.Names.ToList(),
            },
        };

        var parameters = run.Parameters;
        for (int i = 0; i < parameters.Count; i++)
        {
            checkpoint.Tensors[ParameterPrefix + parameters.Names[i]] = parameters.Parameters[i].detach().cpu().clone();
        }

        foreach (var (key, tensor) in stopping.BestParameters)
        {
            checkpoint.Tensors[key] = tensor.cpu().clone();
        }

        checkpoint.Meta.OptimizerSteps = OptimizerFactory.SaveState(run.Optimizer, checkpoint.Tensors);
        checkpoint.Tensors[GlobalRng] = torch.get_rng_state();
        checkpoint.Tensors[ShuffleRng] = run.Shuffler.GetState();
        checkpoint.Tensors[AugmentRng] = run.Preprocessor.GetAugmentationState();
        checkpoint.Write(directory);
    }

    /// <summary>Restores the checkpoint in <paramref name="directory"/> into <paramref name="run"/>; returns false when
    /// there is none.</summary>
    /// <exception cref="InvalidOperationException">The checkpoint was written with other settings or data.</exception>
    public static bool TryResume(TrainingRun run, string directory)
    {
        using var scope = torch.NewDisposeScope();
        using var checkpoint = TrainingCheckpoint.TryRead(directory);
        if (checkpoint is null)
        {
            return false;
        }

        var meta = checkpoint.Meta;
        foreach (var (key, value) in run.Fingerprint)
        {
            var saved = meta.Fingerprint.GetValueOrDefault(key);
            if (saved != value)
            {
                throw new InvalidOperationException(
                    $"The checkpoint in '{directory}' was written with {key} = {saved ?? "(absent)"}, but this run " +
                    $"has " +
                    $"{key} = {value}. Use the same settings and data to resume, set ResumeFromCheckpoint to false, " +
                    $"or " +
                    "choose another CheckpointDirectory.");
            }
        }

        run.Parameters.RestoreFrom(checkpoint.Tensors, ParameterPrefix);
        OptimizerFactory.LoadState(run.Optimizer, checkpoint.Tensors, meta.OptimizerSteps);
        torch.set_rng_state(checkpoint.Tensors[GlobalRng]);
        run.Shuffler.SetState(checkpoint.Tensors[ShuffleRng]);
        run.Preprocessor.SetAugmentationState(checkpoint.Tensors[AugmentRng]);
        var stopping = run.EarlyStopping;
        foreach (var (key, tensor) in checkpoint.Tensors)
        {
            if (key.StartsWith(EarlyStopping.BestPrefix, StringComparison.Ordinal))
            {
                var device = run.Parameters.DeviceOf(key[EarlyStopping.BestPrefix.Length..]);
                stopping.BestParameters[key] = tensor.to(device, copy: true).DetachFromDisposeScope();
            }
        }

        run.EpochsCompleted = meta.EpochsCompleted;
        run.ResumedFromEpoch = meta.EpochsCompleted;
        run.GlobalStep = (long)meta.EpochsCompleted * run.StepsPerEpoch;
        run.History.AddRange(meta.History);
        stopping.BestEpoch = meta.BestEpoch;
        stopping.BestAccuracy = meta.BestAccuracy;
        stopping.EpochsWithoutImprovement = meta.EpochsWithoutImprovement;
        stopping.Stopped = meta.Stopped;
        return true;
    }
}
