using Microsoft.ML.Data;
using MLNet.PromptTuning.Data;
using TorchSharp;
using Xunit;

namespace MLNet.PromptTuning.Tests.Data;

/// <summary>The planes written straight into a tensor are the planes of the managed array, in both layouts.</summary>
public sealed class MLImagePlanesTests
{
    [Theory]
    [InlineData(MLPixelFormat.Rgba32, 3)]
    [InlineData(MLPixelFormat.Rgba32, 1)]
    [InlineData(MLPixelFormat.Bgra32, 3)]
    [InlineData(MLPixelFormat.Bgra32, 1)]
    public void TensorPlanesEqualArrayPlanes(MLPixelFormat format, int channels)
    {
        const int Width = 37, Height = 23;
        var pixels = new byte[Width * Height * 4];
        new Random(7).NextBytes(pixels);
        using var scope = torch.NewDisposeScope();
        using var image = MLImage.CreateFromPixels(Width, Height, format, pixels);

        byte[] expected = MLImagePlanes.ToPlanar(image, channels, p => new InvalidDataException(p));
        var planes = MLImagePlanes.ToPlanarTensor(image, channels, p => new InvalidDataException(p));

        Assert.Equal(torch.ScalarType.Byte, planes.dtype);
        Assert.Equal(new long[] { channels, Height, Width }, planes.shape);
        Assert.Equal(expected, planes.data<byte>().ToArray());
    }
}
