using System.Diagnostics;
using System.Globalization;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Runtime;
using TorchSharp;
using TorchSharp.Modules;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// The training loop for any <see cref="ITrainableClassifier"/>: shuffled mini-batches, preprocessing and
/// augmentation, cross-entropy with label smoothing plus the model's auxiliary losses, AdamW or SGD with per-group
/// weight decay, warmup and cosine decay, gradient clipping, validation, early stopping and exact resume.
/// </summary>
/// <remarks>
/// Every step and every validation batch runs in its own TorchSharp dispose scope, so no tensor outlives its step.
/// Cancellation is checked between steps; a cancelled run leaves the last complete checkpoint and nothing else.
/// </remarks>
public sealed class ClassifierTrainer
{
    private const long ShuffleSeedSalt = 0x5EED_5117;
    private const long AugmentSeedSalt = 0x0A06_3E47;

    private readonly TrainingOptions _options;
    private readonly ITrainingLogger? _logger;
    private readonly IProgress<TrainingProgress>? _progress;

    /// <summary>Creates a trainer.</summary>
    /// <param name="options">Settings; validated here.</param>
    /// <param name="logger">Optional receiver of log lines.</param>
    /// <param name="progress">Optional receiver of progress reports (called synchronously on the training thread).</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public ClassifierTrainer(TrainingOptions options, ITrainingLogger? logger = null, IProgress<TrainingProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = logger;
        _progress = progress;
    }

    /// <summary>The settings in use.</summary>
    public TrainingOptions Options => _options;

    /// <summary>Called on the training thread after every epoch (after validation) with that epoch's metrics.</summary>
    public Action<EpochSummary>? EpochCompleted { get; init; }

    /// <summary>
    /// Trains the parameter groups of <paramref name="model"/> on <paramref name="train"/>. The model is moved to the
    /// configured device first and is left there in evaluation mode.
    /// </summary>
    /// <param name="model">The classifier; only the parameters of its groups change.</param>
    /// <param name="train">Training images and labels (at least one image).</param>
    /// <param name="validation">Optional validation set, scored after every epoch.</param>
    /// <param name="cancellationToken">Checked between steps.</param>
    /// <returns>Per-epoch history, the best epoch and whether the best state was restored.</returns>
    /// <exception cref="ArgumentException">The data does not fit the model.</exception>
    /// <exception cref="NotSupportedException">An unsupported combination of options, such as early stopping without validation data.</exception>
    /// <exception cref="InvalidOperationException">The model's parameter groups are unusable, a checkpoint belongs to
    /// another configuration, or the loss became NaN or infinite.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public TrainingResult Train(
        ITrainableClassifier model,
        ImageTensorDataset train,
        ImageTensorDataset? validation = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        var o = _options;
        ValidateData(model, train, validation);
        if (o.EarlyStoppingPatience > 0 && validation is null)
        {
            throw new NotSupportedException(
                $"EarlyStoppingPatience = {o.EarlyStoppingPatience} needs a validation set; pass one or set EarlyStoppingPatience to 0.");
        }

        var threads = TorchThreads.Configure(o.NumberOfThreads);
        var device = TorchDevices.Resolve(o.Device);
        model.MoveTo(device);
        var groups = model.GetParameterGroups();
        var parameters = ValidateGroups(groups);
        var names = ParameterNames(model, groups);

        torch.manual_seed(o.Seed);
        using var shuffler = new EpochShuffler(o.Seed ^ ShuffleSeedSalt);
        using var preprocessor = new ImagePreprocessor(model.Preprocessing, o.RandomResizedCrop, o.HorizontalFlip, o.Seed ^ AugmentSeedSalt);
        using var optimizer = OptimizerFactory.Create(o, groups);
        var stepsPerEpoch = train.BatchCount(o.BatchSize);
        var scheduler = new LearningRateScheduler(o.Schedule, o.WarmupEpochs, o.Epochs, stepsPerEpoch);
        var predictor = validation is null
            ? null
            : new ClassifierPredictor(model, device, o.Precision, o.EvaluationBatchSize ?? o.BatchSize);
        var fingerprint = Fingerprint(train, validation, model, names, parameters);
        var state = new LoopState();
        var best = new Dictionary<string, torch.Tensor>(StringComparer.Ordinal);

        try
        {
            if (o.CheckpointDirectory is { } dir && o.ResumeFromCheckpoint)
            {
                TryResume(dir, fingerprint, parameters, names, optimizer, shuffler, preprocessor, best, state);
            }

            Log(TrainingLogLevel.Information,
                Inv($"Training on {train.Count} images ({stepsPerEpoch} steps of {o.BatchSize} per epoch) for {o.Epochs} epochs ") +
                Inv($"on {device.type.ToString().ToLowerInvariant()}{(device.index >= 0 ? ":" + device.index : "")}, ") +
                Inv($"{threads} threads, {o.Precision}, {o.Optimizer} lr {o.LearningRate:G4} wd {o.WeightDecay:G4}; trainable: ") +
                string.Join(", ", groups.Select(g => Inv($"{g.Name} {g.Parameters.Sum(p => p.numel())}"))) +
                (validation is null ? "" : Inv($"; validating on {validation.Count} images")) + ".");

            var totalSteps = (long)o.Epochs * stepsPerEpoch;
            var clock = new ThroughputClock();
            for (int epoch = state.EpochsCompleted; epoch < o.Epochs && !state.Stopped; epoch++)
            {
                var epochClock = Stopwatch.StartNew();
                if (device.type == DeviceType.CUDA)
                {
                    // CUDA generator states cannot be saved in TorchSharp; a per-epoch seed keeps resume exact.
                    torch.cuda.manual_seed_all(o.Seed + 1_000_003L * (epoch + 1));
                }

                var stats = RunEpoch(model, train, preprocessor, shuffler, optimizer, scheduler, groups, parameters,
                    device, epoch, stepsPerEpoch, totalSteps, clock, state, cancellationToken);

                double? accuracy = predictor?.Accuracy(validation!, preprocessor);
                var summary = new EpochSummary(epoch + 1, stats.Loss, stats.Accuracy, stats.Auxiliary, stats.LearningRate,
                    accuracy, epochClock.Elapsed);
                state.History.Add(summary);
                state.EpochsCompleted = epoch + 1;
                UpdateBest(summary, parameters, names, best, state);
                if (accuracy is not null)
                {
                    Report(TrainingPhase.Validation, epoch + 1, state.GlobalStep, totalSteps, null, Empty, stats.LearningRate,
                        accuracy, clock, totalSteps - state.GlobalStep);
                }

                LogEpoch(summary);
                EpochCompleted?.Invoke(summary);
                if (o.CheckpointDirectory is { } checkpointDir)
                {
                    WriteCheckpoint(checkpointDir, fingerprint, parameters, names, optimizer, shuffler, preprocessor, best, state);
                }
            }

            bool restored = false;
            if (o.EarlyStoppingPatience > 0 && state.BestEpoch > 0 && state.BestEpoch != state.EpochsCompleted)
            {
                RestoreParameters(parameters, names, best, "best/");
                restored = true;
                Log(TrainingLogLevel.Information, string.Create(CultureInfo.InvariantCulture,
                    $"Restored the trainable parameters of epoch {state.BestEpoch} (validation accuracy {state.BestAccuracy:P2})."));
            }

            model.SetTrainingMode(false);
            var last = state.History.Count > 0 ? state.History[^1] : null;
            Report(TrainingPhase.Completed, state.EpochsCompleted, state.GlobalStep, totalSteps, null, Empty,
                last?.LearningRate ?? 0, last?.ValidationAccuracy, clock, 0);
            return new TrainingResult(state.History.ToArray(), state.BestEpoch, state.BestAccuracy, state.Stopped, restored,
                state.ResumedFromEpoch);
        }
        finally
        {
            foreach (var t in best.Values)
            {
                t.Dispose();
            }
        }
    }

    private EpochStatistics RunEpoch(
        ITrainableClassifier model, ImageTensorDataset train, ImagePreprocessor preprocessor, EpochShuffler shuffler,
        OptimizerHelper optimizer, LearningRateScheduler scheduler, IReadOnlyList<ParameterGroup> groups,
        IReadOnlyList<Parameter> parameters, torch.Device device, int epoch, int stepsPerEpoch, long totalSteps,
        ThroughputClock clock, LoopState state, CancellationToken cancellationToken)
    {
        var o = _options;
        model.SetTrainingMode(true);
        var context = new ForwardContext(true, epoch);
        double lossSum = 0;
        long correct = 0;
        long seen = 0;
        double rate = 0;
        var auxSums = new Dictionary<string, double>(StringComparer.Ordinal);
        var lastAccuracy = state.History.Count > 0 ? state.History[^1].ValidationAccuracy : null;
        using var order = shuffler.NextPermutation(train.Count); // [N]
        for (int step = 0; step < stepsPerEpoch; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            rate = o.LearningRate * scheduler.Factor(epoch, step);
            OptimizerFactory.SetLearningRate(optimizer, groups, rate);
            var started = Stopwatch.GetTimestamp();
            double loss;
            long batch;
            Dictionary<string, double> aux;
            using (var scope = torch.NewDisposeScope())
            {
                var (images, labels) = train.GetBatch(step, o.BatchSize, order);
                batch = labels.shape[0];
                var x = preprocessor.Process(images, device, augment: true); // [B, C, H, W]
                if (o.Precision == TrainingPrecision.BFloat16)
                {
                    x = x.to_type(torch.ScalarType.BFloat16);
                }

                var y = labels.to(device); // [B]
                optimizer.zero_grad();
                var output = model.Forward(x, context);
                var logits = ToFloat32(output.Logits); // [B, C]
                var objective = torch.nn.functional.cross_entropy(logits, y, label_smoothing: o.LabelSmoothing);
                aux = new Dictionary<string, double>(StringComparer.Ordinal);
                foreach (var term in output.AuxiliaryLosses)
                {
                    var value = ToFloat32(term.Value);
                    objective = objective + value;
                    aux[term.Name] = aux.GetValueOrDefault(term.Name) + value.item<float>();
                }

                objective.backward();
                if (o.GradientClipNorm > 0)
                {
                    torch.nn.utils.clip_grad_norm_(parameters, o.GradientClipNorm);
                }

                optimizer.step();
                loss = objective.item<float>();
                correct += logits.argmax(1).eq(y).sum().item<long>();
            }

            if (!double.IsFinite(loss))
            {
                throw new InvalidOperationException(
                    Inv($"The training loss became {loss} at epoch {epoch + 1}, step {step + 1} (learning rate {rate:G4}). ") +
                    "Lower LearningRate, enable GradientClipNorm, or check the data.");
            }

            clock.Add(Stopwatch.GetElapsedTime(started), batch);
            state.GlobalStep++;
            if (o.ReleaseMemoryEveryNSteps > 0 &&
                (state.GlobalStep % o.ReleaseMemoryEveryNSteps == 0 || step == stepsPerEpoch - 1))
            {
                // The step's scope has freed its tensors: collect their wrappers before the GC's young generation grows
                // to its full budget. glibc's arenas are trimmed once per epoch only: a trim hands back pages that the
                // next steps fault in again, which costs time and lowers the average but not the peak.
                MemoryRelease.CollectYoungObjects();
                if (step == stepsPerEpoch - 1)
                {
                    MemoryRelease.TrimNativeHeap();
                }
            }

            seen += batch;
            lossSum += loss * batch;
            foreach (var (name, value) in aux)
            {
                auxSums[name] = auxSums.GetValueOrDefault(name) + value * batch;
            }

            Report(TrainingPhase.Training, epoch + 1, state.GlobalStep, totalSteps, loss, aux, rate, lastAccuracy,
                clock, totalSteps - state.GlobalStep);
            if (o.LogEveryNSteps > 0 && state.GlobalStep % o.LogEveryNSteps == 0)
            {
                Log(TrainingLogLevel.Information, string.Create(CultureInfo.InvariantCulture,
                    $"epoch {epoch + 1}/{o.Epochs} step {state.GlobalStep}/{totalSteps}: loss {loss:F4}, lr {rate:G4}, " +
                    $"{clock.ImagesPerSecond:F1} img/s"));
            }
        }

        var auxMeans = auxSums.ToDictionary(kv => kv.Key, kv => kv.Value / seen, StringComparer.Ordinal);
        return new EpochStatistics(lossSum / seen, correct / (double)seen, auxMeans, rate);
    }

    private static torch.Tensor ToFloat32(torch.Tensor t) =>
        t.dtype == torch.ScalarType.Float32 ? t : t.to_type(torch.ScalarType.Float32);

    private void UpdateBest(
        EpochSummary summary, IReadOnlyList<Parameter> parameters, IReadOnlyList<string> names,
        Dictionary<string, torch.Tensor> best, LoopState state)
    {
        if (summary.ValidationAccuracy is not { } accuracy)
        {
            state.BestEpoch = summary.Epoch;
            return;
        }

        bool improved = state.BestAccuracy is not { } previous || accuracy > previous + _options.EarlyStoppingMinDelta;
        if (improved)
        {
            state.BestAccuracy = accuracy;
            state.BestEpoch = summary.Epoch;
            state.EpochsWithoutImprovement = 0;
            if (_options.EarlyStoppingPatience > 0)
            {
                Snapshot(parameters, names, best, "best/");
            }
        }
        else
        {
            state.EpochsWithoutImprovement++;
            if (_options.EarlyStoppingPatience > 0 && state.EpochsWithoutImprovement >= _options.EarlyStoppingPatience
                && summary.Epoch < _options.Epochs)
            {
                state.Stopped = true;
                Log(TrainingLogLevel.Information, string.Create(CultureInfo.InvariantCulture,
                    $"Early stopping after epoch {summary.Epoch}: no validation gain above {_options.EarlyStoppingMinDelta:G4} " +
                    $"for {state.EpochsWithoutImprovement} epochs (best {state.BestAccuracy:P2} at epoch {state.BestEpoch})."));
            }
        }
    }

    private static void Snapshot(
        IReadOnlyList<Parameter> parameters, IReadOnlyList<string> names, Dictionary<string, torch.Tensor> into, string prefix)
    {
        for (int i = 0; i < parameters.Count; i++)
        {
            var key = prefix + names[i];
            if (into.Remove(key, out var old))
            {
                old.Dispose();
            }

            using var scope = torch.NewDisposeScope();
            into[key] = parameters[i].detach().clone().DetachFromDisposeScope();
        }
    }

    private static void RestoreParameters(
        IReadOnlyList<Parameter> parameters, IReadOnlyList<string> names, IReadOnlyDictionary<string, torch.Tensor> from,
        string prefix)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        for (int i = 0; i < parameters.Count; i++)
        {
            var key = prefix + names[i];
            if (!from.TryGetValue(key, out var source))
            {
                throw new InvalidDataException($"The saved state lacks parameter '{names[i]}'.");
            }

            if (!source.shape.SequenceEqual(parameters[i].shape) || source.dtype != parameters[i].dtype)
            {
                throw new InvalidDataException(
                    $"Saved parameter '{names[i]}' is {source.dtype} [{string.Join(", ", source.shape)}]; the model has " +
                    $"{parameters[i].dtype} [{string.Join(", ", parameters[i].shape)}].");
            }

            parameters[i].copy_(source);
        }
    }

    private void WriteCheckpoint(
        string directory, Dictionary<string, string> fingerprint, IReadOnlyList<Parameter> parameters,
        IReadOnlyList<string> names, OptimizerHelper optimizer, EpochShuffler shuffler, ImagePreprocessor preprocessor,
        Dictionary<string, torch.Tensor> best, LoopState state)
    {
        // The scope collects the temporary views; the checkpoint owns (and disposes) the copies it writes.
        using var scope = torch.NewDisposeScope();
        using var checkpoint = new TrainingCheckpoint
        {
            Meta = new TrainingCheckpoint.Header
            {
                Fingerprint = fingerprint,
                EpochsCompleted = state.EpochsCompleted,
                History = state.History.ToList(),
                BestEpoch = state.BestEpoch,
                BestAccuracy = state.BestAccuracy,
                EpochsWithoutImprovement = state.EpochsWithoutImprovement,
                Stopped = state.Stopped,
                ParameterNames = names.ToList(),
            },
        };

        for (int i = 0; i < parameters.Count; i++)
        {
            checkpoint.Tensors["param/" + names[i]] = parameters[i].detach().cpu().clone();
        }

        foreach (var (key, tensor) in best)
        {
            checkpoint.Tensors[key] = tensor.cpu().clone();
        }

        checkpoint.Meta.OptimizerSteps = OptimizerFactory.SaveState(optimizer, checkpoint.Tensors);
        checkpoint.Tensors["rng/global"] = torch.get_rng_state();
        checkpoint.Tensors["rng/shuffle"] = shuffler.GetState();
        checkpoint.Tensors["rng/augment"] = preprocessor.GetAugmentationState();
        checkpoint.Write(directory);
    }

    private void TryResume(
        string directory, Dictionary<string, string> fingerprint, IReadOnlyList<Parameter> parameters,
        IReadOnlyList<string> names, OptimizerHelper optimizer, EpochShuffler shuffler, ImagePreprocessor preprocessor,
        Dictionary<string, torch.Tensor> best, LoopState state)
    {
        using var scope = torch.NewDisposeScope();
        using var checkpoint = TrainingCheckpoint.TryRead(directory);
        if (checkpoint is null)
        {
            return;
        }

        var meta = checkpoint.Meta;
        foreach (var (key, value) in fingerprint)
        {
            var saved = meta.Fingerprint.GetValueOrDefault(key);
            if (saved != value)
            {
                throw new InvalidOperationException(
                    $"The checkpoint in '{directory}' was written with {key} = {saved ?? "(absent)"}, but this run has " +
                    $"{key} = {value}. Use the same settings and data to resume, set ResumeFromCheckpoint to false, or " +
                    "choose another CheckpointDirectory.");
            }
        }

        RestoreParameters(parameters, names, checkpoint.Tensors, "param/");
        OptimizerFactory.LoadState(optimizer, checkpoint.Tensors, meta.OptimizerSteps);
        torch.set_rng_state(checkpoint.Tensors["rng/global"]);
        shuffler.SetState(checkpoint.Tensors["rng/shuffle"]);
        preprocessor.SetAugmentationState(checkpoint.Tensors["rng/augment"]);
        foreach (var (key, tensor) in checkpoint.Tensors.Where(kv => kv.Key.StartsWith("best/", StringComparison.Ordinal)))
        {
            var index = names.ToList().IndexOf(key["best/".Length..]);
            best[key] = tensor.to(parameters[index].device, copy: true).DetachFromDisposeScope();
        }

        state.EpochsCompleted = meta.EpochsCompleted;
        state.ResumedFromEpoch = meta.EpochsCompleted;
        state.GlobalStep = (long)meta.EpochsCompleted * int.Parse(fingerprint["StepsPerEpoch"], CultureInfo.InvariantCulture);
        state.History.AddRange(meta.History);
        state.BestEpoch = meta.BestEpoch;
        state.BestAccuracy = meta.BestAccuracy;
        state.EpochsWithoutImprovement = meta.EpochsWithoutImprovement;
        state.Stopped = meta.Stopped;
        Log(TrainingLogLevel.Warning, $"Resumed from the checkpoint in '{directory}' after epoch {meta.EpochsCompleted}" +
            (meta.Stopped ? " (early stopping had already ended that run)." : "."));
    }

    private Dictionary<string, string> Fingerprint(
        ImageTensorDataset train, ImageTensorDataset? validation, ITrainableClassifier model,
        IReadOnlyList<string> names, IReadOnlyList<Parameter> parameters)
    {
        var o = _options;
        static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        var f = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [nameof(o.Optimizer)] = o.Optimizer.ToString(),
            [nameof(o.LearningRate)] = F(o.LearningRate),
            [nameof(o.WeightDecay)] = F(o.WeightDecay),
            [nameof(o.Momentum)] = F(o.Momentum),
            [nameof(o.AdamBeta1)] = F(o.AdamBeta1),
            [nameof(o.AdamBeta2)] = F(o.AdamBeta2),
            [nameof(o.AdamEpsilon)] = F(o.AdamEpsilon),
            [nameof(o.Epochs)] = o.Epochs.ToString(CultureInfo.InvariantCulture),
            [nameof(o.BatchSize)] = o.BatchSize.ToString(CultureInfo.InvariantCulture),
            [nameof(o.WarmupEpochs)] = F(o.WarmupEpochs),
            [nameof(o.Schedule)] = o.Schedule.ToString(),
            [nameof(o.LabelSmoothing)] = F(o.LabelSmoothing),
            [nameof(o.GradientClipNorm)] = F(o.GradientClipNorm),
            [nameof(o.Seed)] = o.Seed.ToString(CultureInfo.InvariantCulture),
            [nameof(o.Precision)] = o.Precision.ToString(),
            [nameof(o.EarlyStoppingPatience)] = o.EarlyStoppingPatience.ToString(CultureInfo.InvariantCulture),
            [nameof(o.EarlyStoppingMinDelta)] = F(o.EarlyStoppingMinDelta),
            [nameof(o.RandomResizedCrop)] = o.RandomResizedCrop.ToString(),
            [nameof(o.HorizontalFlip)] = o.HorizontalFlip.ToString(),
            ["StepsPerEpoch"] = train.BatchCount(o.BatchSize).ToString(CultureInfo.InvariantCulture),
            ["TrainingData"] = $"{train.Count}x{train.Channels}x{train.Height}x{train.Width}",
            ["ValidationData"] = validation is null ? "none" : $"{validation.Count}x{validation.Channels}x{validation.Height}x{validation.Width}",
            ["Classes"] = model.NumberOfClasses.ToString(CultureInfo.InvariantCulture),
            ["TrainableParameters"] = string.Join(";", names.Select((n, i) =>
                $"{n}:{parameters[i].dtype}[{string.Join(",", parameters[i].shape)}]")),
        };
        return f;
    }

    private static void ValidateData(ITrainableClassifier model, ImageTensorDataset train, ImageTensorDataset? validation)
    {
        if (train.Count == 0)
        {
            throw new ArgumentException("The training set is empty; at least one image is needed.", nameof(train));
        }

        if (model.NumberOfClasses < 1)
        {
            throw new ArgumentException($"The model reports {model.NumberOfClasses} classes; at least 1 is needed.", nameof(model));
        }

        foreach (var (set, name) in new[] { (train, nameof(train)), (validation, nameof(validation)) })
        {
            if (set is not null && set.LabelUpperBound > model.NumberOfClasses)
            {
                throw new ArgumentException(
                    $"The {name} set has label {set.LabelUpperBound - 1}, but the model predicts {model.NumberOfClasses} " +
                    $"classes (labels 0..{model.NumberOfClasses - 1}).", name);
            }
        }
    }

    private static List<Parameter> ValidateGroups(IReadOnlyList<ParameterGroup> groups)
    {
        if (groups is null || groups.Count == 0 || groups.All(g => g.Parameters.Count == 0))
        {
            throw new InvalidOperationException("The model has no trainable parameter groups; nothing would be trained.");
        }

        var seen = new HashSet<IntPtr>();
        var all = new List<Parameter>();
        foreach (var group in groups)
        {
            if (!(group.LearningRateScale >= 0) || double.IsInfinity(group.LearningRateScale))
            {
                throw new InvalidOperationException(
                    $"Parameter group '{group.Name}' has LearningRateScale {group.LearningRateScale}; expected a finite value >= 0.");
            }

            foreach (var p in group.Parameters)
            {
                if (!p.requires_grad)
                {
                    throw new InvalidOperationException(
                        $"Parameter group '{group.Name}' lists a parameter with requires_grad = false; the model must unfreeze what it lists.");
                }

                if (!p.is_floating_point())
                {
                    throw new InvalidOperationException($"Parameter group '{group.Name}' lists a non-floating-point parameter ({p.dtype}).");
                }

                if (!seen.Add(p.Handle))
                {
                    throw new InvalidOperationException($"A parameter appears twice in the parameter groups (again in '{group.Name}').");
                }

                all.Add(p);
            }
        }

        return all;
    }

    /// <summary>Module names of the trainable parameters ("blocks.0.prompt"), or group/index where the module does not list one.</summary>
    private static List<string> ParameterNames(ITrainableClassifier model, IReadOnlyList<ParameterGroup> groups)
    {
        var byHandle = new Dictionary<IntPtr, string>();
        foreach (var (name, p) in model.Module.named_parameters())
        {
            byHandle.TryAdd(p.Handle, name);
        }

        var names = new List<string>();
        foreach (var group in groups)
        {
            for (int i = 0; i < group.Parameters.Count; i++)
            {
                names.Add(byHandle.TryGetValue(group.Parameters[i].Handle, out var n) ? n : $"{group.Name}#{i}");
            }
        }

        return names;
    }

    private void Report(
        TrainingPhase phase, int epoch, long step, long totalSteps, double? loss, IReadOnlyDictionary<string, double> aux,
        double rate, double? accuracy, ThroughputClock clock, long remainingSteps)
    {
        _progress?.Report(new TrainingProgress(phase, epoch, _options.Epochs, step, totalSteps, loss, aux, rate, accuracy,
            clock.ImagesPerSecond, clock.Estimate(remainingSteps)));
    }

    private void LogEpoch(EpochSummary s)
    {
        var aux = s.AuxiliaryLosses.Count == 0
            ? ""
            : ", " + string.Join(", ", s.AuxiliaryLosses.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:F4}")));
        var val = s.ValidationAccuracy is { } a ? string.Create(CultureInfo.InvariantCulture, $", validation accuracy {a:P2}") : "";
        Log(TrainingLogLevel.Information, string.Create(CultureInfo.InvariantCulture,
            $"epoch {s.Epoch}/{_options.Epochs}: train loss {s.TrainLoss:F4}{aux}, train accuracy {s.TrainAccuracy:P2}{val}, " +
            $"lr {s.LearningRate:G4}, {s.Duration.TotalSeconds:F1} s"));
    }

    private void Log(TrainingLogLevel level, string message) => _logger?.Log(level, message);

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static readonly IReadOnlyDictionary<string, double> Empty = new Dictionary<string, double>();

    private sealed record EpochStatistics(double Loss, double Accuracy, IReadOnlyDictionary<string, double> Auxiliary, double LearningRate);

    private sealed class LoopState
    {
        public int EpochsCompleted { get; set; }

        public int ResumedFromEpoch { get; set; }

        public long GlobalStep { get; set; }

        public List<EpochSummary> History { get; } = new();

        public int BestEpoch { get; set; }

        public double? BestAccuracy { get; set; }

        public int EpochsWithoutImprovement { get; set; }

        public bool Stopped { get; set; }
    }

    /// <summary>Throughput over the steps of this run (resumed epochs excluded).</summary>
    private sealed class ThroughputClock
    {
        private TimeSpan _elapsed;
        private long _images;
        private long _steps;

        public double ImagesPerSecond => _elapsed > TimeSpan.Zero ? _images / _elapsed.TotalSeconds : 0;

        public void Add(TimeSpan elapsed, long images)
        {
            _elapsed += elapsed;
            _images += images;
            _steps++;
        }

        public TimeSpan? Estimate(long remainingSteps) =>
            _steps == 0 ? null : TimeSpan.FromTicks((long)(_elapsed.Ticks / (double)_steps * remainingSteps));
    }
}
