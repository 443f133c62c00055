using Microsoft.ML;
using MLNet.PromptTuning.Tests.Interop;
using Xunit;

namespace MLNet.PromptTuning.Tests.Integration;

/// <summary>
/// A linear probe without augmentation computes each image's frozen features once: the trained model equals the one
/// trained with the full forward pass every step, and after the first epoch no image is read again.
/// </summary>
public sealed class FrozenFeatureReuseTests
{
    [Fact]
    public void ReusingFrozenFeaturesTrainsTheSameHead()
    {
        using var fixture = PromptViTFixture.Create(10);
        var ml = new MLContext(seed: 1);
        var data = PromptViTTrainerTests.Prepare(ml, fixture, fixture.LoadRows(ml));

        (List<float[]> Scores, double[] Losses) Train(bool reuse)
        {
            var options = fixture.Options(method: "linear", epochs: 3);
            options.ReuseFrozenFeatures = reuse;
            options.ValidationSetFraction = 0.3f;
            using var model = ml.MulticlassClassification.Trainers.PromptViT(options).Fit(data);
            return (ScoreReading.ReadVectors(model.Transform(data), "Score"),
                model.TrainingResult!.History.Select(e => e.TrainLoss).ToArray());
        }

        var reused = Train(reuse: true);
        var full = Train(reuse: false);
        Assert.Equal(full.Losses.Length, reused.Losses.Length);
        for (int i = 0; i < full.Losses.Length; i++)
        {
            Assert.Equal(full.Losses[i], reused.Losses[i], 1e-6);
        }

        Assert.Equal(full.Scores.Count, reused.Scores.Count);
        for (int i = 0; i < full.Scores.Count; i++)
        {
            for (int c = 0; c < full.Scores[i].Length; c++)
            {
                Assert.Equal(full.Scores[i][c], reused.Scores[i][c], 1e-6f);
            }
        }
    }

    [Fact]
    public void AfterTheFirstEpochNoImageIsRead()
    {
        // With nothing cached, a read after epoch 1 needs the files, which are deleted when epoch 1 ends.
        static void Train(string method)
        {
            using var fixture = PromptViTFixture.Create(8);
            var ml = new MLContext(seed: 1);
            var data = PromptViTTrainerTests.Prepare(ml, fixture, fixture.LoadRows(ml));
            var options = fixture.Options(method, epochs: 3);
            options.ImageCacheMegabytes = 0;
            options.MetricsCallback = summary =>
            {
                if (summary.Epoch == 1)
                {
                    foreach (var row in fixture.Images.Rows)
                    {
                        File.Delete(Path.Combine(fixture.Images.Folder, row.Path));
                    }
                }
            };

            using var model = ml.MulticlassClassification.Trainers.PromptViT(options).Fit(data);
            Assert.Equal(3, model.TrainingResult!.History.Count);
        }

        Train("linear");
        Assert.ThrowsAny<Exception>(() => Train("vpt")); // the control: prompts need the images every epoch
    }
}
