using TorchSharp;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// Mixup (Zhang et al., ICLR 2018) as timm's batch mode applies it: with probability p a batch is replaced by
/// λ·x + (1−λ)·x[perm], λ ~ Beta(α, α), and its targets by the same mix of the label-smoothed one-hot targets; an
/// unmixed batch keeps its smoothed targets (λ = 1). The draws of each step come from a generator seeded by the run's
/// seed and the global step, so a resumed run mixes exactly as an uninterrupted one and there is no state to
/// checkpoint.
/// </summary>
internal sealed class Mixup
{
    private const long StepSalt = 0x6D69_7875;

    private readonly double _alpha;
    private readonly double _probability;
    private readonly double _smoothing;
    private readonly long _seed;

    public Mixup(double alpha, double probability, double labelSmoothing, long seed)
    {
        _alpha = alpha;
        _probability = probability;
        _smoothing = labelSmoothing;
        _seed = seed;
    }

    /// <summary>
    /// The mixed batch and its soft targets for optimisation step <paramref name="globalStep"/>, and the λ used (1 when
    /// this batch is not mixed).
    /// </summary>
    /// <param name="images">float [B, C, H, W], preprocessed.</param>
    /// <param name="labels">int64 [B] class indices.</param>
    /// <param name="numberOfClasses">C of the targets.</param>
    /// <param name="globalStep">0-based step over the whole run.</param>
    public (torch.Tensor Images, torch.Tensor Targets, double Lambda) Apply(torch.Tensor images, torch.Tensor labels,
        int numberOfClasses, long globalStep)
    {
        using var generator = new torch.Generator((ulong)(_seed ^ (StepSalt * (globalStep + 1))));
        var targets = SmoothedOneHot(labels, numberOfClasses, _smoothing).to(images.device); // [B, C]
        bool mix = torch.rand(new long[] { 1 }, generator: generator).item<float>() < _probability;
        if (!mix)
        {
            return (images, targets, 1.0);
        }

        double lambda = SampleBeta(_alpha, generator);
        var order = torch.randperm(images.shape[0], generator: generator).to(images.device); // [B]
        var mixedImages = images * lambda + images.index_select(0, order) * (1 - lambda);
        var mixedTargets = targets * lambda + targets.index_select(0, order) * (1 - lambda);
        return (mixedImages, mixedTargets, lambda);
    }

    /// <summary>One-hot targets with smoothing ε: ε/C off the class and 1 − ε + ε/C on it (rows sum to 1).</summary>
    internal static torch.Tensor SmoothedOneHot(torch.Tensor labels, int numberOfClasses, double smoothing)
    {
        double off = smoothing / numberOfClasses;
        var oneHot = torch.nn.functional.one_hot(labels, numberOfClasses).to_type(torch.ScalarType.Float32);
        return oneHot * (1 - smoothing) + off;
    }

    /// <summary>Cross-entropy against soft targets: mean over the batch of −Σ_c t_c·log softmax(z)_c.</summary>
    internal static torch.Tensor SoftTargetCrossEntropy(torch.Tensor logits, torch.Tensor targets) =>
        (-targets * torch.nn.functional.log_softmax(logits, 1)).sum(1).mean();

    /// <summary>Beta(α, α) as X / (X + Y) with X, Y ~ Gamma(α, 1), drawn in float64 from
    /// <paramref name="generator"/>.</summary>
    internal static double SampleBeta(double alpha, torch.Generator generator)
    {
        using var scope = torch.NewDisposeScope();
        var shapes = torch.full(new long[] { 2 }, alpha, torch.ScalarType.Float64);
        var gammas = torch._standard_gamma(shapes, generator);
        double x = gammas[0].item<double>();
        double y = gammas[1].item<double>();
        return x + y > 0 ? x / (x + y) : 0.5;
    }
}
