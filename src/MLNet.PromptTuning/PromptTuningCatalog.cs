using Microsoft.ML;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Interop;

namespace MLNet.PromptTuning;

/// <summary>Adds <c>PromptViT</c> to <c>mlContext.MulticlassClassification.Trainers</c>.</summary>
public static class PromptTuningCatalog
{
    /// <summary>
    /// Creates a trainer that adapts a frozen pretrained Vision Transformer to your images by training a few prompt
    /// parameters and a linear head (VPT-Deep with 10 prompts per layer by default). The learning rate and warm-up
    /// default to the method's own (see docs/options.md).
    /// </summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">Key-typed label column (use <c>MapValueToKey</c>).</param>
    /// <param name="imageColumnName">Image column: <c>MLImage</c>, encoded bytes, or a channel-planar pixel
    /// vector.</param>
    /// <param name="backbonePath">Pretrained backbone weights (safetensors or Google .npz); nothing is
    /// downloaded.</param>
    /// <param name="backboneConfig">The backbone's architecture, when the file does not record it (for example
    /// <see cref="VitVariants.Base"/>).</param>
    /// <param name="method">A registered method id, vpt by default. Built in: vpt, tcpa, cvpt, lspt, sep, linear,
    /// full; see docs/options.md. Use the Options overload to set the method's own options.</param>
    /// <param name="maxEpochs">Passes over the data.</param>
    /// <param name="batchSize">Images per step.</param>
    /// <param name="learningRate">Peak learning rate (AdamW); null (default) uses the method's own default.</param>
    /// <param name="validationSet">Optional data scored after every epoch.</param>
    /// <param name="scoreColumnName">Output probabilities column.</param>
    /// <param name="predictedLabelColumnName">Output predicted-label column.</param>
    public static PromptViTTrainer PromptViT(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = PromptViTTrainer.Options.Defaults.LabelColumnName,
        string imageColumnName = PromptViTTrainer.Options.Defaults.ImageColumnName,
        string? backbonePath = null,
        VitConfig? backboneConfig = null,
        string method = PromptViTTrainer.Options.Defaults.Method,
        int maxEpochs = PromptViTTrainer.Options.Defaults.MaxEpoch,
        int batchSize = PromptViTTrainer.Options.Defaults.BatchSize,
        double? learningRate = null,
        IDataView? validationSet = null,
        string scoreColumnName = PromptViTTrainer.Options.Defaults.ScoreColumnName,
        string predictedLabelColumnName = PromptViTTrainer.Options.Defaults.PredictedLabelColumnName)
    {
        return PromptViT(catalog, new PromptViTTrainer.Options
        {
            LabelColumnName = labelColumnName,
            ImageColumnName = imageColumnName,
            BackbonePath = backbonePath,
            BackboneConfig = backboneConfig,
            Method = method,
            MaxEpoch = maxEpochs,
            BatchSize = batchSize,
            LearningRate = learningRate,
            ValidationSet = validationSet,
            ScoreColumnName = scoreColumnName,
            PredictedLabelColumnName = predictedLabelColumnName,
        });
    }

    /// <summary>Creates a trainer from <paramref name="options"/> (every setting, including the method's
    /// own).</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="options">The settings; validated here.</param>
    public static PromptViTTrainer PromptViT(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        PromptViTTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new PromptViTTrainer(MLNetEnvironment.GetEnvironment(catalog), options);
    }
}
