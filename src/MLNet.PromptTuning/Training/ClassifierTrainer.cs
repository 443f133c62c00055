using System.Diagnostics;
using System.Globalization;
using MLNet.PromptTuning.Data;
using TorchSharp;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// The training loop for any <see cref="ITrainableClassifier"/>: shuffled mini-batches, preprocessing and
/// augmentation, cross-entropy with label smoothing plus the model's auxiliary losses, AdamW or SGD with per-group
/// weight decay, warmup and cosine decay, gradient clipping, validation, early stopping and exact resume.
/// </summary>
/// <remarks>
/// Every step and every validation batch runs in its own TorchSharp dispose scope, so no tensor outlives its step.
/// Cancellation is checked between steps; a cancelled run leaves the last complete checkpoint and nothing else.
/// The run's state lives in one object (<c>TrainingRun</c>); early stopping, checkpoints, reporting and memory release
/// are its collaborators, each in its own file.
/// </remarks>
public sealed class ClassifierTrainer
{
    private readonly TrainingOptions _options;
    private readonly TrainingRecipe? _recipe;
    private readonly ITrainingLogger? _logger;
    private readonly IProgress<TrainingProgress>? _progress;

    /// <summary>Creates a trainer.</summary>
    /// <param name="options">Settings; validated here.</param>
    /// <param name="logger">Optional receiver of log lines.</param>
    /// <param name="progress">Optional receiver of progress reports (called synchronously on the training
    /// thread).</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public ClassifierTrainer(
        TrainingOptions options, ITrainingLogger? logger = null, IProgress<TrainingProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _recipe = options.Recipe is null ? null : TrainingRecipes.Get(options.Recipe);
        _options = options.WithRecipeApplied();
        _logger = logger;
        _progress = progress;
    }

    /// <summary>The settings in use: the options given, with the values of their <see cref="TrainingOptions.Recipe"/>
    /// filled in.</summary>
    public TrainingOptions Options => _options;

    /// <summary>Called on the training thread after every epoch (after validation) with that epoch's metrics.</summary>
    public Action<EpochSummary>? EpochCompleted { get; init; }

    /// <summary>
    /// Trains the parameter groups of <paramref name="model"/> on <paramref name="train"/>. The model is moved to the
    /// configured device first and is left there in evaluation mode. A learning rate or warm-up left unset in the
    /// options is taken from <see cref="ITrainableClassifier.TrainingDefaults"/>.
    /// </summary>
    /// <param name="model">The classifier; only the parameters of its groups change.</param>
    /// <param name="train">Training images and labels (at least one image).</param>
    /// <param name="validation">Optional validation set, scored after every epoch.</param>
    /// <param name="cancellationToken">Checked between steps.</param>
    /// <returns>Per-epoch history, the best epoch and whether the best state was restored.</returns>
    /// <exception cref="ArgumentException">The data does not fit the model.</exception>
    /// <exception cref="NotSupportedException">An unsupported combination of options, such as early stopping without
    /// validation data.</exception>
    /// <exception cref="InvalidOperationException">The model's parameter groups are unusable, a checkpoint belongs to
    /// another configuration, or the loss became NaN or infinite.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public TrainingResult Train(
        ITrainableClassifier model,
        ImageTensorDataset train,
        ImageTensorDataset? validation = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        return TrainOn(model, train, validation, cancellationToken);
    }

    /// <summary>Trains on images served in batches by any source; otherwise as <see cref="Train"/>.</summary>
    internal TrainingResult TrainOn(
        ITrainableClassifier model,
        IImageBatchSource train,
        IImageBatchSource? validation,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        var o = _options;
        ValidateData(model, train, validation);
        if (o.Precision == TrainingPrecision.Auto)
        {
            throw new NotSupportedException(
                "Precision = Auto is resolved by PromptViTTrainer, which creates the model. With the engine, choose " +
                "Float32 or BFloat16 (and call SetComputePrecision(BFloat16) on a PromptedVisionTransformer).");
        }

        if (o.EarlyStoppingPatience > 0 && validation is null)
        {
            throw new NotSupportedException(
                $"EarlyStoppingPatience = {o.EarlyStoppingPatience} needs a validation set; pass one or set " +
                "EarlyStoppingPatience to 0.");
        }

        var reporter = new TrainingReporter(_logger, _progress, EpochCompleted);
        using var run = TrainingRun.Start(o, model, train, validation);
        if (o.CheckpointDirectory is { } resumeFrom && o.ResumeFromCheckpoint &&
            TrainingCheckpointer.TryResume(run, resumeFrom))
        {
            reporter.Log(TrainingLogLevel.Warning,
                $"Resumed from the checkpoint in '{resumeFrom}' after epoch {run.EpochsCompleted}" +
                (run.EarlyStopping.Stopped ? " (early stopping had already ended that run)." : "."));
        }

        if (_recipe is not null)
        {
            reporter.Log(TrainingLogLevel.Information, $"Recipe '{_recipe.Name}' ({_recipe.Source}).");
        }

        reporter.RunStarting(run, run.Groups);
        var memory = new StepMemoryRelease(o.ReleaseMemoryEveryNSteps);
        for (int epoch = run.EpochsCompleted; epoch < o.MaxEpoch && !run.EarlyStopping.Stopped; epoch++)
        {
            var clock = Stopwatch.StartNew();
            if (run.Device.type == DeviceType.CUDA)
            {
                // CUDA generator states cannot be saved in TorchSharp; a per-epoch seed keeps resume exact.
                torch.cuda.manual_seed_all(run.Seed + 1_000_003L * (epoch + 1));
            }

            var (loss, accuracy, auxiliary, rate) = RunEpoch(run, epoch, reporter, memory, cancellationToken);
            double? validationAccuracy = run.Predictor?.Accuracy(run.Validation!, run.Preprocessor,
                cancellationToken);
            var summary = new EpochSummary(epoch + 1, loss, accuracy, auxiliary, rate, validationAccuracy,
                clock.Elapsed);
            run.History.Add(summary);
            run.EpochsCompleted = epoch + 1;
            if (run.EarlyStopping.Update(summary, run.Parameters) is { } stopped)
            {
                reporter.Log(TrainingLogLevel.Information, stopped);
            }

            reporter.EpochFinished(run, summary);
            if (o.CheckpointDirectory is { } directory)
            {
                TrainingCheckpointer.Write(run, directory);
            }
        }

        bool restored = run.EarlyStopping.ShouldRestore(run.EpochsCompleted);
        if (restored)
        {
            run.EarlyStopping.RestoreBest(run.Parameters);
            reporter.Log(TrainingLogLevel.Information, string.Create(CultureInfo.InvariantCulture,
                $"Restored the trainable parameters of epoch {run.EarlyStopping.BestEpoch} " +
                $"(validation accuracy {run.EarlyStopping.BestAccuracy:P2})."));
        }

        model.SetTrainingMode(false);
        reporter.RunFinished(run);
        return run.ToResult(restored);
    }

    /// <summary>One pass over the shuffled training data; returns the epoch's mean loss, accuracy, auxiliary losses
    /// and last learning rate.</summary>
    private static (double Loss, double Accuracy, IReadOnlyDictionary<string, double> Auxiliary, double Rate) RunEpoch(
        TrainingRun run, int epoch, TrainingReporter reporter, StepMemoryRelease memory, CancellationToken cancellation)
    {
        run.Model.SetTrainingMode(true);
        var context = new ForwardContext(true, epoch);
        double lossSum = 0, rate = 0;
        long correct = 0, seen = 0;
        var auxiliarySums = new Dictionary<string, double>(StringComparer.Ordinal);
        long[] order;
        using (var permutation = run.Shuffler.NextPermutation(run.Train.Count)) // [N]
        {
            order = permutation.data<long>().ToArray();
        }

        // A linear probe whose features are all stored reads no image at all.
        using var batches = run.FrozenFeatures is { IsComplete: true } ? null
            : run.Train.Open(order, run.Options.BatchSize, cancellation);
        for (int step = 0; step < run.StepsPerEpoch; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            rate = run.LearningRate * run.Scheduler.Factor(epoch, step);
            OptimizerFactory.SetLearningRate(run.Optimizer, run.Groups, rate);
            var started = Stopwatch.GetTimestamp();
            int first = step * run.Options.BatchSize;
            var indices = order.AsSpan(first, Math.Min(run.Options.BatchSize, order.Length - first));
            var result = RunStep(run, batches, indices, context);
            if (!double.IsFinite(result.Loss))
            {
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                    $"The training loss became {result.Loss} at epoch {epoch + 1}, step {step + 1} (learning rate " +
                    $"{rate:G4}). Lower LearningRate, enable GradientClipNorm, or check the data."));
            }

            reporter.Clock.Add(Stopwatch.GetElapsedTime(started), result.Images);
            run.GlobalStep++;
            memory.AfterStep(run.GlobalStep, lastStepOfEpoch: step == run.StepsPerEpoch - 1);
            seen += result.Images;
            correct += result.Correct;
            lossSum += result.Loss * result.Images;
            foreach (var (name, value) in result.Auxiliary)
            {
                auxiliarySums[name] = auxiliarySums.GetValueOrDefault(name) + value * result.Images;
            }

            reporter.StepFinished(run, epoch, result.Loss, result.Auxiliary, rate);
        }

        var auxiliaryMeans = auxiliarySums.ToDictionary(kv => kv.Key, kv => kv.Value / seen, StringComparer.Ordinal);
        return (lossSum / seen, correct / (double)seen, auxiliaryMeans, rate);
    }

    /// <summary>One optimisation step on the next batch of the epoch (the images at <paramref name="indices"/>), in
    /// its own dispose scope.</summary>
    private static StepResult RunStep(TrainingRun run, IImageBatchStream? batches, ReadOnlySpan<long> indices,
        ForwardContext context)
    {
        var o = run.Options;
        using var scope = torch.NewDisposeScope();
        run.Optimizer.zero_grad();
        var (logits, labels, auxiliaryLosses, softTargets) = run.FrozenFeatures is { } features
            ? HeadOnFrozenFeatures(run, features, batches, indices, context)
            : FullForward(run, batches!, context);
        var y = labels.to(run.Device); // [B]
        var objective = softTargets is null
            ? torch.nn.functional.cross_entropy(logits, y, label_smoothing: o.LabelSmoothing)
            : Mixup.SoftTargetCrossEntropy(logits, softTargets);
        var auxiliary = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var term in auxiliaryLosses)
        {
            var value = ToFloat32(term.Value);
            objective = objective + value;
            auxiliary[term.Name] = auxiliary.GetValueOrDefault(term.Name) + value.item<float>();
        }

        objective.backward();
        if (o.GradientClipNorm > 0)
        {
            torch.nn.utils.clip_grad_norm_(run.Parameters.Parameters, o.GradientClipNorm);
        }

        run.Optimizer.step();
        long correct = logits.argmax(1).eq(y).sum().item<long>();
        return new StepResult(objective.item<float>(), labels.shape[0], correct, auxiliary);
    }

    /// <summary>The whole model on the next batch: float32 logits [B, C], labels [B], auxiliary losses.</summary>
    private static (torch.Tensor Logits, torch.Tensor Labels, IReadOnlyList<AuxiliaryLoss> Auxiliary,
        torch.Tensor? SoftTargets) FullForward(TrainingRun run, IImageBatchStream batches, ForwardContext context)
    {
        var (images, labels) = batches.Next();
        var x = run.Preprocessor.Process(images, run.Device, augment: true); // [B, C, H, W]
        torch.Tensor? softTargets = null;
        if (run.Mixup is { } mixup)
        {
            // Mixed in float32 before any bf16 cast, as the images are preprocessed.
            (x, softTargets, _) = mixup.Apply(x, labels.to(run.Device), run.Model.NumberOfClasses, run.GlobalStep);
        }

        if (run.Options.Precision == TrainingPrecision.BFloat16)
        {
            x = x.to_type(torch.ScalarType.BFloat16);
        }

        var output = run.Model.Forward(x, context);
        return (ToFloat32(output.Logits), labels, output.AuxiliaryLosses, softTargets);
    }

    /// <summary>
    /// The head on frozen features: computed from the next batch (and stored) while the store is incomplete, read
    /// from the store afterwards. The features equal those of the full forward pass, so the step does too.
    /// </summary>
    private static (torch.Tensor Logits, torch.Tensor Labels, IReadOnlyList<AuxiliaryLoss> Auxiliary,
        torch.Tensor? SoftTargets) HeadOnFrozenFeatures(TrainingRun run, FrozenFeatureStore store,
            IImageBatchStream? batches, ReadOnlySpan<long> indices, ForwardContext context)
    {
        var model = (IFrozenFeatureClassifier)run.Model;
        torch.Tensor features, labels;
        if (batches is null)
        {
            (features, labels) = store.Get(indices);
            features = features.to(run.Device);
        }
        else
        {
            var (images, batchLabels) = batches.Next();
            features = model.ComputeFeatures(Preprocess(run, images), context); // [B, D]
            labels = batchLabels;
            store.Put(indices, features, labels);
        }

        return (model.Classify(features), labels, Array.Empty<AuxiliaryLoss>(), null);
    }

    /// <summary>Resized, augmented and normalised images on the device, in the compute precision.</summary>
    private static torch.Tensor Preprocess(TrainingRun run, torch.Tensor images)
    {
        var x = run.Preprocessor.Process(images, run.Device, augment: true); // [B, C, H, W]
        return run.Options.Precision == TrainingPrecision.BFloat16 ? x.to_type(torch.ScalarType.BFloat16) : x;
    }

    private static torch.Tensor ToFloat32(torch.Tensor t) =>
        t.dtype == torch.ScalarType.Float32 ? t : t.to_type(torch.ScalarType.Float32);

    private static void ValidateData(ITrainableClassifier model, IImageBatchSource train,
        IImageBatchSource? validation)
    {
        if (train.Count == 0)
        {
            throw new ArgumentException("The training set is empty; at least one image is needed.", nameof(train));
        }

        if (model.NumberOfClasses < 1)
        {
            throw new ArgumentException(
                $"The model reports {model.NumberOfClasses} classes; at least 1 is needed.", nameof(model));
        }

        foreach (var (set, name) in new[] { (train, nameof(train)), (validation, nameof(validation)) })
        {
            if (set is not null && set.LabelUpperBound > model.NumberOfClasses)
            {
                throw new ArgumentException(
                    $"The {name} set has label {set.LabelUpperBound - 1}, but the model predicts " +
                    $"{model.NumberOfClasses} classes (labels 0..{model.NumberOfClasses - 1}).", name);
            }
        }
    }

    private readonly record struct StepResult(
        double Loss, long Images, long Correct, IReadOnlyDictionary<string, double> Auxiliary);
}
