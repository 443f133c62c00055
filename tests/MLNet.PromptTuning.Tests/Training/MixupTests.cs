using MLNet.PromptTuning.Training;
using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Tests.Training;

/// <summary>Mixup's invariants: images and targets mixed by the same λ and permutation, targets that stay
/// distributions, Beta(α, α) draws, the share of mixed batches, and draws fixed by seed and step.</summary>
public sealed class MixupTests
{
    private const int Batch = 8;

    [Fact]
    public void ImagesAndTargetsAreMixedWithTheSameLambdaAndPermutation()
    {
        using var scope = torch.NewDisposeScope();
        // Image i is the constant i and has class i, so a mixed image's value must equal its target-weighted class.
        var labels = torch.arange(Batch, torch.ScalarType.Int64);
        var images = labels.to_type(torch.ScalarType.Float32).reshape(Batch, 1, 1, 1).expand(Batch, 1, 3, 3)
            .contiguous();
        var mixup = new Mixup(alpha: 0.8, probability: 1, labelSmoothing: 0, seed: 5);

        for (long step = 0; step < 20; step++)
        {
            var (mixed, targets, lambda) = mixup.Apply(images, labels, Batch, step);
            Assert.InRange(lambda, 0, 1);
            Assert.Equal(new long[] { Batch, Batch }, targets.shape);
            var rowSums = targets.sum(1);
            var columnSums = targets.sum(new long[] { 0 }); // each image is used once as itself and once as a partner
            Assert.True(rowSums.allclose(Ones(Batch), atol: 1e-6), $"step {step}: rows");
            Assert.True(columnSums.allclose(Ones(Batch), atol: 1e-6), $"step {step}: columns");
            var expected = targets.matmul(labels.to_type(torch.ScalarType.Float32)); // [B]
            Assert.True(mixed[.., 0, 1, 1].allclose(expected, atol: 1e-5), $"step {step}: images vs targets");
            Assert.True(Same(mixed.amax(new long[] { 1, 2, 3 }), mixed.amin(new long[] { 1, 2, 3 })));
            var onSelf = targets.diagonal();
            Assert.True(onSelf.ge(lambda - 1e-6).all().item<bool>(), "each row keeps at least λ of its own class");
        }
    }

    [Fact]
    public void SmoothedTargetsMatchLabelSmoothingAndUnmixedBatchesPassThrough()
    {
        using var scope = torch.NewDisposeScope();
        var labels = torch.tensor(new long[] { 0, 2, 1, 2 });
        var targets = Mixup.SmoothedOneHot(labels, 3, 0.1);
        Assert.Equal(1 - 0.1 + 0.1 / 3, targets[1, 2].item<float>(), 6);
        Assert.Equal(0.1 / 3, targets[1, 0].item<float>(), 6);
        Assert.True(targets.sum(1).allclose(Ones(4), atol: 1e-6));

        var logits = torch.randn(4, 3, generator: new torch.Generator(3));
        var soft = Mixup.SoftTargetCrossEntropy(logits, targets).item<float>();
        var smoothed = torch.nn.functional.cross_entropy(logits, labels, label_smoothing: 0.1).item<float>();
        Assert.Equal(smoothed, soft, 5);

        var images = torch.rand(4, 1, 2, 2, generator: new torch.Generator(4));
        var (same, sameTargets, lambda) = new Mixup(0.8, probability: 0, labelSmoothing: 0.1, seed: 1)
            .Apply(images, labels, 3, globalStep: 7);
        Assert.Equal(1.0, lambda);
        Assert.True(Same(same, images));
        Assert.True(Same(sameTargets, targets));
    }

    [Fact]
    public void BetaDrawsHaveTheMeanAndVarianceOfBetaAlphaAlpha()
    {
        const double alpha = 0.8;
        var generator = new torch.Generator(11);
        var draws = Enumerable.Range(0, 4000).Select(_ => Mixup.SampleBeta(alpha, generator)).ToArray();
        double mean = draws.Average();
        double variance = draws.Select(d => (d - mean) * (d - mean)).Sum() / (draws.Length - 1);
        Assert.All(draws, d => Assert.InRange(d, 0, 1));
        Assert.InRange(mean, 0.48, 0.52);                          // 1/2
        Assert.InRange(variance, 0.090, 0.103);                    // 1 / (4(2α + 1)) = 0.0962
    }

    [Fact]
    public void TheShareOfMixedBatchesIsTheProbabilityAndDrawsAreFixedBySeedAndStep()
    {
        using var scope = torch.NewDisposeScope();
        var labels = torch.arange(Batch, torch.ScalarType.Int64) % 3;
        var images = torch.rand(Batch, 1, 2, 2, generator: new torch.Generator(2));
        var mixup = new Mixup(0.8, probability: 0.5, labelSmoothing: 0.1, seed: 9);
        var lambdas = Enumerable.Range(0, 400).Select(step => mixup.Apply(images, labels, 3, step).Lambda).ToArray();
        int mixed = lambdas.Count(l => l < 1);
        Assert.InRange(mixed, 160, 240);

        var again = Enumerable.Range(0, 400).Select(step => new Mixup(0.8, 0.5, 0.1, seed: 9)
            .Apply(images, labels, 3, step).Lambda);
        Assert.Equal(lambdas, again);
        var otherSeed = Enumerable.Range(0, 400).Select(step => new Mixup(0.8, 0.5, 0.1, seed: 10)
            .Apply(images, labels, 3, step).Lambda);
        Assert.NotEqual(lambdas, otherSeed);
    }

    private static bool Same(torch.Tensor a, torch.Tensor b) => a.eq(b).all().item<bool>();

    private static torch.Tensor Ones(long count) => torch.ones(new[] { count }, torch.ScalarType.Float32);
}
