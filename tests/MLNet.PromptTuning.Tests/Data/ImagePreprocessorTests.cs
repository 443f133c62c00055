using MLNet.PromptTuning.Data;
using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Tests.Data;

public sealed class ImagePreprocessorTests
{
    // Fixtures/make_resize_fixture.py prints these with PIL 9.4: bicubic resizes of a 7x9 pattern with wrap-around
    // edges (a hard case), and PIL's RGB->L conversion.
    private static readonly byte[] PilDown4x5 =
        { 62, 123, 163, 115, 71, 134, 83, 121, 139, 143, 116, 142, 91, 122, 124, 128, 92, 141, 109, 131 };

    private static readonly byte[] PilUp12x10 =
    {
        0, 24, 58, 91, 123, 167, 223, 188, 0, 34, 25, 56, 99, 134, 174, 160, 141, 139, 28, 67, 86, 118, 156, 190, 241,
        146, 17, 67, 96, 128, 156, 197, 96, 91, 139, 107, 57, 107, 168, 199, 171, 216, 40, 13, 56, 97, 139, 165, 180,
        213, 53, 89, 62, 77, 124, 171, 216, 197, 52, 95, 24, 54, 111, 156, 142, 140, 186, 168, 22, 66, 94, 125, 171,
            226,
        101, 11, 61, 88, 103, 136, 163, 202, 126, 140, 77, 30, 78, 126, 174, 205, 196, 242, 59, 30, 76, 113, 143, 172,
        206, 238, 90, 127, 82, 92, 135, 184, 152, 60, 100, 132, 20, 51, 102, 140, 172, 221, 152, 0, 30, 62,
    };

    private static readonly byte[] PilGray =
    {
        25, 53, 111, 139, 168, 197, 75, 27, 55, 159, 188, 66, 94, 152, 104, 133, 161, 190, 143, 172, 124, 152, 31, 59,
        88, 145, 174, 22, 50, 108, 136, 165, 194, 222, 24, 52, 156, 185, 63, 91, 43, 101, 130, 158, 187, 140, 169, 121,
        149, 178, 56, 85, 142, 171, 19, 47, 76, 133, 162, 191, 143, 21, 49,
    };

    [Fact]
    public void NormalisationIsExactWhenNoResizeIsNeeded()
    {
        var mean = new[] { 0.485f, 0.456f, 0.406f };
        var std = new[] { 0.229f, 0.224f, 0.225f };
        var pixels = Enumerable.Range(0, 2 * 3 * 3 * 2).Select(i => (byte)(i * 11 % 256)).ToArray();
        using var scope = torch.NewDisposeScope();
        using var pre = new ImagePreprocessor(new ImagePreprocessing(3, 2, 3, mean, std));
        var input = torch.tensor(pixels, new long[] { 2, 3, 3, 2 }, torch.ScalarType.Byte);

        var output = pre.Process(input, torch.CPU).data<float>().ToArray();

        Assert.Equal(pixels.Length, output.Length);
        for (int i = 0; i < pixels.Length; i++)
        {
            int channel = i / 6 % 3;
            float expected = ((float)pixels[i] / 255f - mean[channel]) / std[channel];
            Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(output[i]));
        }
    }

    [Fact]
    public void FloatInputInPixelUnitsGivesTheSameResultAsBytes()
    {
        using var scope = torch.NewDisposeScope();
        using var pre = new ImagePreprocessor(ImagePreprocessing.ImageNet(4));
        var bytes = torch.randint(0, 256, new long[] { 2, 3, 6, 6 }, torch.ScalarType.Byte);

        var fromBytes = pre.Process(bytes, torch.CPU);
        var fromFloats = pre.Process(bytes.to_type(torch.ScalarType.Float32), torch.CPU);

        Assert.True(fromBytes.IsSameAs(fromFloats));
    }

    [Fact]
    public void DownscaleMatchesPilBicubicWithinOneLevel()
    {
        AssertResizeMatchesPil(4, 5, PilDown4x5);
    }

    [Fact]
    public void UpscaleMatchesPilBicubicWithinOneLevel()
    {
        AssertResizeMatchesPil(12, 10, PilUp12x10);
    }

    [Fact]
    public void ResizedOutputHasTheModelSizeAndConstantImagesStayConstant()
    {
        using var scope = torch.NewDisposeScope();
        using var pre = new ImagePreprocessor(new ImagePreprocessing(5, 3, 1, new[] { 0f }, new[] { 1f }));
        var constant = torch.full(new long[] { 2, 1, 11, 8 }, 77, torch.ScalarType.Byte);

        var output = pre.Process(constant, torch.CPU);

        Assert.Equal(new long[] { 2, 1, 5, 3 }, output.shape);
        Assert.True(output.eq(77f / 255f).all().item<bool>());
    }

    [Fact]
    public void GrayIsRepeatedIntoThreeChannels()
    {
        using var scope = torch.NewDisposeScope();
        using var pre = new ImagePreprocessor(new ImagePreprocessing(3, 3, 3, new[] { 0f, 0f, 0f },
            new[] { 1f, 1f, 1f }));
        var gray = torch.randint(0, 256, new long[] { 2, 1, 3, 3 }, torch.ScalarType.Byte);

        var output = pre.Process(gray, torch.CPU); // [2, 3, 3, 3]

        Assert.Equal(new long[] { 2, 3, 3, 3 }, output.shape);
        var expected = gray.to_type(torch.ScalarType.Float32).div(255.0);
        for (int c = 0; c < 3; c++)
        {
            Assert.True(output[.., c..(c + 1)].IsSameAs(expected));
        }
    }

    [Fact]
    public void RgbBecomesGrayWithRec601LumaLikePil()
    {
        var src = Pattern(7, 9);
        var rgb = new byte[3 * 7 * 9];
        for (int y = 0; y < 7; y++)
        {
            for (int x = 0; x < 9; x++)
            {
                rgb[(0 * 7 + y) * 9 + x] = src[y * 9 + x];
                rgb[(1 * 7 + y) * 9 + x] = src[(6 - y) * 9 + x];
                rgb[(2 * 7 + y) * 9 + x] = src[y * 9 + (8 - x)];
            }
        }

        using var scope = torch.NewDisposeScope();
        using var pre = new ImagePreprocessor(new ImagePreprocessing(7, 9, 1, new[] { 0f }, new[] { 1f }));
        var output = pre.Process(torch.tensor(rgb, new long[] { 1, 3, 7, 9 }, torch.ScalarType.Byte), torch.CPU);

        var levels = output.mul(255.0).round().to_type(torch.ScalarType.Int32).data<int>().ToArray();
        Assert.Equal(PilGray.Select(v => (int)v), levels);
    }

    [Fact]
    public void AugmentationIsSeededAndOffUnlessRequested()
    {
        using var scope = torch.NewDisposeScope();
        var target = new ImagePreprocessing(4, 4, 1, new[] { 0f }, new[] { 1f });
        var images = torch.randint(0, 256, new long[] { 6, 1, 4, 4 }, torch.ScalarType.Byte);
        using var a = new ImagePreprocessor(target, randomResizedCrop: true, horizontalFlip: true, seed: 5);
        using var b = new ImagePreprocessor(target, randomResizedCrop: true, horizontalFlip: true, seed: 5);
        using var c = new ImagePreprocessor(target, randomResizedCrop: true, horizontalFlip: true, seed: 6);

        var outA = a.Process(images, torch.CPU, augment: true);
        torch.rand(100); // global draws must not matter
        var outB = b.Process(images, torch.CPU, augment: true);
        var outC = c.Process(images, torch.CPU, augment: true);
        var plain = a.Process(images, torch.CPU, augment: false);

        Assert.True(outA.IsSameAs(outB));
        Assert.False(outA.IsSameAs(outC));
        Assert.True(plain.IsSameAs(images.to_type(torch.ScalarType.Float32).div(255.0)));
    }

    [Fact]
    public void FlipMirrorsSomeImagesAndLeavesTheRest()
    {
        using var scope = torch.NewDisposeScope();
        var target = new ImagePreprocessing(3, 5, 1, new[] { 0f }, new[] { 1f });
        using var pre = new ImagePreprocessor(target, horizontalFlip: true, seed: 11);
        var images = torch.arange(0, 15, dtype: torch.ScalarType.Byte).reshape(1, 1, 3, 5).expand(32, -1, -1,
            -1).contiguous();
        var expected = images.to_type(torch.ScalarType.Float32).div(255.0);

        var output = pre.Process(images, torch.CPU, augment: true);

        int flipped = 0;
        for (int i = 0; i < 32; i++)
        {
            var o = output[i];
            if (o.IsSameAs(expected[i].flip(2)))
            {
                flipped++;
            }
            else
            {
                Assert.True(o.IsSameAs(expected[i]));
            }
        }

        Assert.InRange(flipped, 1, 31);
    }

    [Fact]
    public void CropBoxFollowsTorchvisionRules()
    {
        var draws = new float[40];
        draws[0] = 0.5f; // area fraction 0.08 + 0.5 * 0.92 = 0.54
        draws[1] = 0.5f; // log-ratio midpoint: aspect 1
        draws[2] = 0f;
        draws[3] = 0.999f;

        var box = ImagePreprocessor.SampleCropBox(100, 100, draws);

        Assert.Equal((0, 27, 73, 73), box); // round(sqrt(5400)) = 73; left = floor(0.999 * 28)

        var impossible = Enumerable.Repeat(0.9999f, 40).ToArray(); // every try is wider than the image
        Assert.Equal((0, 0, 100, 100), ImagePreprocessor.SampleCropBox(100, 100, impossible));
        Assert.Equal((0, 10, 30, 40), ImagePreprocessor.SampleCropBox(30, 60, impossible)); // ratio clamped to 4/3

        var random = new Random(3);
        for (int trial = 0; trial < 200; trial++)
        {
            var u = Enumerable.Range(0, 40).Select(_ => (float)random.NextDouble()).ToArray();
            var (top, left, h, w) = ImagePreprocessor.SampleCropBox(20, 30, u);
            Assert.InRange(h, 1, 20);
            Assert.InRange(w, 1, 30);
            Assert.InRange(top, 0, 20 - h);
            Assert.InRange(left, 0, 30 - w);
        }
    }

    [Fact]
    public void ImagesOfMixedSizesBecomeOneBatchLikeSingleImageBatches()
    {
        using var scope = torch.NewDisposeScope();
        using var pre = new ImagePreprocessor(ImagePreprocessing.ImageNet(4));
        var images = new[]
        {
            torch.randint(0, 256, new long[] { 3, 4, 4 }, torch.ScalarType.Byte),
            torch.randint(0, 256, new long[] { 1, 9, 6 }, torch.ScalarType.Byte),
            torch.randint(0, 256, new long[] { 3, 2, 7 }, torch.ScalarType.Byte).to_type(torch.ScalarType.Float32),
        };

        var batch = pre.Process(images, torch.CPU);

        Assert.Equal(new long[] { 3, 3, 4, 4 }, batch.shape);
        for (int i = 0; i < images.Length; i++)
        {
            Assert.True(batch[i..(i + 1)].IsSameAs(pre.Process(images[i].unsqueeze(0), torch.CPU)));
        }

        Assert.Throws<ArgumentException>(() => pre.Process(Array.Empty<torch.Tensor>(), torch.CPU));
        var rank = Assert.Throws<ArgumentException>(() => pre.Process(new[] { images[0].unsqueeze(0) }, torch.CPU));
        Assert.Contains("Image 0 must be [C, H, W]", rank.Message);
    }

    [Fact]
    public void RejectsBatchesItCannotRead()
    {
        using var scope = torch.NewDisposeScope();
        using var pre = new ImagePreprocessor(ImagePreprocessing.ImageNet(4));

        var rank = Assert.Throws<ArgumentException>(() =>
            pre.Process(torch.zeros(3, 4, 4, dtype: torch.ScalarType.Byte), torch.CPU));
        var channels = Assert.Throws<ArgumentException>(() =>
            pre.Process(torch.zeros(1, 2, 4, 4, dtype: torch.ScalarType.Byte), torch.CPU));
        var dtype = Assert.Throws<ArgumentException>(() =>
            pre.Process(torch.zeros(1, 3, 4, 4, dtype: torch.ScalarType.Int32), torch.CPU));

        Assert.Contains("[3, 4, 4]", rank.Message);
        Assert.Contains("C = 1 or 3", channels.Message);
        Assert.Contains("got Int32", dtype.Message);
    }

    private static void AssertResizeMatchesPil(int height, int width, byte[] pil)
    {
        using var scope = torch.NewDisposeScope();
        using var pre = new ImagePreprocessor(new ImagePreprocessing(height, width, 1, new[] { 0f }, new[] { 1f }));
        var input = torch.tensor(Pattern(7, 9), new long[] { 1, 1, 7, 9 }, torch.ScalarType.Byte);

        var output = pre.Process(input, torch.CPU);

        var levels = output.mul(255.0).round().to_type(torch.ScalarType.Int32).data<int>().ToArray();
        Assert.Equal(pil.Length, levels.Length);
        var worst = levels.Zip(pil, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1, $"Largest difference from PIL is {worst} levels.");
    }

    private static byte[] Pattern(int height, int width)
    {
        var src = new byte[height * width];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                src[y * width + x] = (byte)((x * 37 + y * 91) % 256);
            }
        }

        return src;
    }
}
