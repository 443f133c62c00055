using System.Buffers.Binary;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Tests.Checkpoints;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using MLNet.PromptTuning.Tests.TestSupport;

namespace MLNet.PromptTuning.Tests.EmbeddedAssets;

/// <summary>
/// The files committed under <c>samples/Assets</c> (copied to the test output as <c>EmbeddedAssets/</c>): the
/// pretrained backbone and the PNG set of the classes it never saw. Reads no external data and trains nothing.
/// </summary>
public sealed class EmbeddedAssetsTests : IDisposable
{
    private static readonly string[] UnseenClasses = { "Ankle boot", "Bag", "Sandal", "Shirt", "Sneaker" };
    private readonly string _directory = Directory.CreateTempSubdirectory("assets-tests-").FullName;

    private static string Assets => Path.Combine(AppContext.BaseDirectory, "EmbeddedAssets");

    private static string BackbonePath => Path.Combine(Assets, "backbone", "model.safetensors");

    private static string UnseenRoot => Path.Combine(Assets, "fashion-mnist-unseen");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void EmbeddedBackboneOpensFromItsMetadataAlone()
    {
        var config = BackboneCheckpoint.ReadConfig(BackbonePath);
        Assert.StartsWith("vit_fmnist5_", config.Name);
        Assert.Equal((28, 28, 1), (config.ImageHeight, config.ImageWidth, config.InChannels));
        Assert.Equal((28, 28, 1),
            (config.Preprocessing.Height, config.Preprocessing.Width, config.Preprocessing.Channels));
        Assert.InRange(config.Preprocessing.Mean[0], 0.2f, 0.4f);
        Assert.InRange(config.Preprocessing.Std[0], 0.2f, 0.5f);
        Assert.InRange(new FileInfo(BackbonePath).Length, 100_000, 8_000_000);

        using var checkpoint = BackboneCheckpoint.Read(BackbonePath);
        Assert.Empty(checkpoint.HeadTensors);
        Assert.Contains("Fashion-MNIST classes 0-4", checkpoint.Metadata["pretrained_on"]);
        Assert.Contains("Zalando", checkpoint.Metadata["data_license"]);

        using var backbone = BackboneCheckpoint.LoadBackbone(BackbonePath);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var features = backbone.ForwardFeatures(torch.randn(2, 1, 28, 28));             // [2, D]
        Assert.Equal(new long[] { 2, config.EmbedDim }, features.shape);
        Assert.True(features.isfinite().all().item<bool>());
    }

    [Fact]
    public void EmbeddedBackboneConfigAndWeightsRoundTrip()
    {
        var config = BackboneCheckpoint.ReadConfig(BackbonePath);
        using var backbone = BackboneCheckpoint.LoadBackbone(BackbonePath);
        var copyPath = Path.Combine(_directory, "copy.safetensors");
        BackboneCheckpoint.Save(backbone, copyPath);

        BackboneConfigTests.AssertSameConfig(config, BackboneCheckpoint.ReadConfig(copyPath));
        using var copy = BackboneCheckpoint.LoadBackbone(copyPath);
        var copied = copy.state_dict();
        foreach (var (key, tensor) in backbone.state_dict())
        {
            Assert.True(TinyModels.Same(tensor, copied[key]), key);
        }
    }

    [Theory]
    [InlineData("train", 120)]
    [InlineData("test", 100)]
    public void UnseenPngSetHasTheClassFoldersAndCounts(string split, int perClass)
    {
        var root = Path.Combine(UnseenRoot, split);
        var folders = Directory.GetDirectories(root).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(UnseenClasses, folders);
        foreach (var name in UnseenClasses)
        {
            var files = Directory.GetFiles(Path.Combine(root, name));
            Assert.Equal(perClass, files.Length);
            Assert.All(files, f => Assert.Matches(@"^\d{5}\.png$", Path.GetFileName(f)));
        }
    }

    [Fact]
    public void UnseenPngsAre8BitGrayscale28x28AndDecode()
    {
        var files = Directory.GetFiles(UnseenRoot, "*.png", SearchOption.AllDirectories);
        Assert.Equal(5 * (120 + 100), files.Length);
        foreach (var file in files)
        {
            var header = new byte[26];
            using (var stream = File.OpenRead(file))
            {
                stream.ReadExactly(header);
            }

            Assert.Equal("IHDR"u8.ToArray(), header[12..16]);
            Assert.Equal(28u, BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(16)));
            Assert.Equal(28u, BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(20)));
            Assert.Equal((byte)8, header[24]);  // bit depth
            Assert.Equal((byte)0, header[25]);  // colour type: grayscale
        }

        // A few through ML.NET's decoder, the one the library's image columns use.
        foreach (var file in files.Take(5))
        {
            using var image = MLImage.CreateFromFile(file);
            Assert.Equal((28, 28), (image.Width, image.Height));
        }
    }

    [Fact]
    public void PretrainedFeaturesSeparateTheUnseenClassesBetterThanRandomWeights()
    {
        // A closed-form ridge classifier on frozen class-token features of the committed PNGs: no training loop, a
        // second of inference, and no learning rate to get wrong. The thresholds were measured at a fixed thread count.
        using var threads = new TorchThreadScope();
        using var pretrained = BackboneCheckpoint.LoadBackbone(BackbonePath);
        torch.manual_seed(0);
        using var random = new VisionTransformer(pretrained.Config);
        using var train = LoadPngSplit("train");
        using var test = LoadPngSplit("test");

        double pretrainedAccuracy = RidgeAccuracy(pretrained, train, test);
        double randomAccuracy = RidgeAccuracy(random, train, test);

        // Measured: 79.8 % pretrained, 72.8 % at random initialisation. A random ViT is a random projection of the
        // pixels, which already separates Fashion-MNIST fairly well; the point is that the committed weights are the
        // trained ones and add information about classes they never saw. (Nearest class mean on unscaled features does
        // not show it: 49.6 % vs 57.8 %; it weighs every feature direction alike, informative or not.)
        Assert.True(pretrainedAccuracy > 0.75,
            $"pretrained ridge accuracy {pretrainedAccuracy:P1} (random initialisation {randomAccuracy:P1})");
        Assert.True(pretrainedAccuracy > randomAccuracy + 0.04,
            $"pretrained {pretrainedAccuracy:P1} vs random initialisation {randomAccuracy:P1}");
    }

    private static ImageTensorDataset LoadPngSplit(string split)
    {
        var files = UnseenClasses
            .SelectMany((name, label) =>
                Directory.GetFiles(Path.Combine(UnseenRoot, split, name)).Order(StringComparer.Ordinal)
                .Select(f => (File: f, Label: label)))
            .ToArray();
        using var builder = new ImageTensorDatasetBuilder(files.Length, 1, 28, 28);
        foreach (var (file, label) in files)
        {
            using var image = MLImage.CreateFromFile(file);
            var gray = new byte[28 * 28];
            var pixels = image.Pixels;                                                   // 4 bytes per pixel, R = G = B
            for (int i = 0; i < gray.Length; i++)
            {
                gray[i] = pixels[i * 4];
            }

            builder.Add(gray, 1, 28, 28, label);
        }

        return builder.Build();
    }

    /// <summary>Ridge regression (λ = 1) onto one-hot labels from standardised features plus a bias; test
    /// accuracy.</summary>
    private static double RidgeAccuracy(VisionTransformer backbone, ImageTensorDataset train, ImageTensorDataset test)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var preprocessor = new ImagePreprocessor(backbone.Config.Preprocessing);
        backbone.eval();
        var trainFeatures = backbone.ForwardFeatures(preprocessor.Process(train.Images,
            torch.CPU)).to(ScalarType.Float64);   // [N, D]
        var testFeatures = backbone.ForwardFeatures(preprocessor.Process(test.Images,
            torch.CPU)).to(ScalarType.Float64);     // [M, D]
        var mean = trainFeatures.mean(new long[] { 0 }, keepdim: true);
        var std = trainFeatures.std(new long[] { 0 }, keepdim: true) + 1e-6;
        Tensor Design(Tensor f) =>
            torch.cat(new[] { (f - mean) / std, torch.ones(f.shape[0], 1, dtype: ScalarType.Float64) }, 1);
        var x = Design(trainFeatures);                                                                  // [N, D + 1]
        var targets = nn.functional.one_hot(train.Labels, UnseenClasses.Length).to(ScalarType.Float64);  // [N, C]
        var weights = torch.linalg.solve(
            x.t().matmul(x) + torch.eye(x.shape[1], dtype: ScalarType.Float64), x.t().matmul(targets));   // [D + 1, C]
        var predicted = Design(testFeatures).matmul(weights).argmax(1);                                 // [M]
        return predicted.eq(test.Labels).to(ScalarType.Float64).mean().item<double>();
    }
}
