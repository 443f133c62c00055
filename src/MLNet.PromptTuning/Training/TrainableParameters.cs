using TorchSharp;
using TorchSharp.Modules;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// The parameters a run trains, in parameter-group order, with the module names that identify them in checkpoints
/// (<c>prompt.vpt.prompt_embeddings</c>, or <c>group#index</c> where the module does not list one).
/// </summary>
internal sealed class TrainableParameters
{
    private TrainableParameters(IReadOnlyList<Parameter> parameters, IReadOnlyList<string> names)
    {
        Parameters = parameters;
        Names = names;
    }

    public IReadOnlyList<Parameter> Parameters { get; }

    public IReadOnlyList<string> Names { get; }

    public int Count => Parameters.Count;

    /// <summary>Checks the model's groups (non-empty, each parameter once, trainable, floating point) and names
    /// them.</summary>
    /// <exception cref="InvalidOperationException">The groups are unusable.</exception>
    public static TrainableParameters Of(ITrainableClassifier model, IReadOnlyList<ParameterGroup> groups)
    {
        if (groups is null || groups.Count == 0 || groups.All(g => g.Parameters.Count == 0))
        {
            throw new InvalidOperationException(
                "The model has no trainable parameter groups; nothing would be trained.");
        }

        var byHandle = new Dictionary<IntPtr, string>();
        foreach (var (name, p) in model.Module.named_parameters())
        {
            byHandle.TryAdd(p.Handle, name);
        }

        var seen = new HashSet<IntPtr>();
        var parameters = new List<Parameter>();
        var names = new List<string>();
        foreach (var group in groups)
        {
            if (!(group.LearningRateScale >= 0) || double.IsInfinity(group.LearningRateScale))
            {
                throw new InvalidOperationException(
                    $"Parameter group '{group.Name}' has LearningRateScale {group.LearningRateScale}; " +
                    "expected a finite value >= 0.");
            }

            for (int i = 0; i < group.Parameters.Count; i++)
            {
                var p = group.Parameters[i];
                if (!p.requires_grad)
                {
                    throw new InvalidOperationException(
                        $"Parameter group '{group.Name}' lists a parameter with requires_grad = false; the model " +
                        $"must " +
                        "unfreeze what it lists.");
                }

                if (!p.is_floating_point())
                {
                    throw new InvalidOperationException(
                        $"Parameter group '{group.Name}' lists a non-floating-point parameter ({p.dtype}).");
                }

                if (!seen.Add(p.Handle))
                {
                    throw new InvalidOperationException(
                        $"A parameter appears twice in the parameter groups (again in '{group.Name}').");
                }

                parameters.Add(p);
                names.Add(byHandle.TryGetValue(p.Handle, out var n) ? n : $"{group.Name}#{i}");
            }
        }

        return new TrainableParameters(parameters, names);
    }

    /// <summary>Detached copies of every parameter under <c>prefix + name</c>, replacing (and disposing) older
    /// ones.</summary>
    public void CopyInto(IDictionary<string, torch.Tensor> into, string prefix)
    {
        for (int i = 0; i < Parameters.Count; i++)
        {
            var key = prefix + Names[i];
            if (into.Remove(key, out var old))
            {
                old.Dispose();
            }

            using var scope = torch.NewDisposeScope();
            into[key] = Parameters[i].detach().clone().DetachFromDisposeScope();
        }
    }

    /// <summary>Copies the tensors stored under <c>prefix + name</c> back into the parameters, checking shape and
    /// type.</summary>
    /// <exception cref="InvalidDataException">A tensor is missing or does not fit.</exception>
    public void RestoreFrom(IReadOnlyDictionary<string, torch.Tensor> from, string prefix)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        for (int i = 0; i < Parameters.Count; i++)
        {
            if (!from.TryGetValue(prefix + Names[i], out var source))
            {
                throw new InvalidDataException($"The saved state lacks parameter '{Names[i]}'.");
            }

            var target = Parameters[i];
            if (!source.shape.SequenceEqual(target.shape) || source.dtype != target.dtype)
            {
                throw new InvalidDataException(
                    $"Saved parameter '{Names[i]}' is {source.dtype} [{string.Join(", ", source.shape)}]; the model " +
                    $"has " +
                    $"{target.dtype} [{string.Join(", ", target.shape)}].");
            }

            target.copy_(source);
        }
    }

    /// <summary>The device of the named parameter (checkpointed tensors go back where their parameter lives).</summary>
    public torch.Device DeviceOf(string name)
    {
        for (int i = 0; i < Names.Count; i++)
        {
            if (Names[i] == name)
            {
                return Parameters[i].device;
            }
        }

        throw new InvalidDataException($"The saved state names parameter '{name}', which the model does not train.");
    }

    /// <summary>One line per parameter, <c>name:dtype[shape]</c>, for the run's fingerprint.</summary>
    public string Describe() => string.Join(";", Names.Select((n, i) =>
        $"{n}:{Parameters[i].dtype}[{string.Join(",", Parameters[i].shape)}]"));
}
