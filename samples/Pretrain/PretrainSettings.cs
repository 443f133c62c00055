namespace MLNet.PromptTuning.Samples.Pretrain;

/// <summary>Everything that shapes a pretraining run (recorded in the model card).</summary>
internal sealed record PretrainSettings
{
    public int EmbedDim { get; init; }

    public int Depth { get; init; }

    public int NumHeads { get; init; }

    public int PatchSize { get; init; }

    public int Epochs { get; init; }

    public int BatchSize { get; init; }

    public double LearningRate { get; init; }

    public double WeightDecay { get; init; }

    public double WarmupEpochs { get; init; }

    public double LabelSmoothing { get; init; }

    public int Seed { get; init; }

    public int Threads { get; init; }

    /// <summary>Training images per class; 0 uses all 6,000 (a smaller value is for timing trials).</summary>
    public int ImagesPerClass { get; init; }

    public string DataDirectory { get; init; } = FashionMnist.DebianDirectory;

    public string OutputDirectory { get; init; } = "";

    public string CommandLine { get; init; } = "";
}
