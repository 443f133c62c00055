using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace MLNet.PromptTuning.Samples.QuickStart;

/// <summary>One test image as the ONNX model's input: channel-planar RGB bytes.</summary>
public sealed class PixelImage
{
    /// <summary>R, G and B planes, row-major.</summary>
    public byte[] Image { get; set; } = Array.Empty<byte>();
}

/// <summary>
/// <c>--export-onnx FILE</c>: writes the trained PromptViT model as ONNX with <c>mlContext.Model.ConvertToOnnx</c>,
/// scores the test images with ONNX Runtime (no libtorch involved) and prints its accuracy beside the library's.
/// </summary>
internal static class OnnxCheck
{
    private const int BatchSize = 64;

    public static void Run(MLContext ml, ITransformer pipeline, IReadOnlyList<ImageFile> testFiles, string dataFolder,
        string onnxPath, double libraryAccuracy)
    {
        var model = ((IEnumerable<ITransformer>)pipeline).OfType<PromptViTTransformer>().Single();
        var (rows, height, width) = ReadPixels(testFiles, dataFolder);
        if (rows is null)
        {
            Console.WriteLine(
                "ONNX:     skipped: an ONNX model takes one image size and the test images have several.");
            return;
        }

        // The input's schema fixes the ONNX model's input: "Image", uint8 [N, 3, H, W].
        var schema = SchemaDefinition.Create(typeof(PixelImage));
        schema[nameof(PixelImage.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Byte, 3, height, width);
        IDataView input = ml.Data.LoadFromEnumerable(rows, schema);
        string path = Path.GetFullPath(onnxPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temporary = path + ".tmp";
        using (var stream = File.Create(temporary))
        {
            ml.Model.ConvertToOnnx(model, input, stream);
        }

        File.Move(temporary, path, overwrite: true);

        using var options = new SessionOptions { IntraOpNumThreads = Environment.ProcessorCount };
        using var session = new InferenceSession(path, options);
        int correct = 0;
        for (int start = 0; start < rows.Length; start += BatchSize)
        {
            var batch = rows.Skip(start).Take(BatchSize).ToArray();
            var pixels = new DenseTensor<byte>(batch.SelectMany(r => r.Image).ToArray(),
                new[] { batch.Length, 3, height, width });
            using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("Image", pixels) },
                new[] { "PredictedLabel.output" });
            var keys = results[0].AsTensor<uint>();
            for (int i = 0; i < batch.Length; i++)
            {
                // PredictedLabel is ML.NET's 1-based key into the class names.
                correct += model.ClassNames[(int)keys[i, 0] - 1] == testFiles[start + i].Label ? 1 : 0;
            }
        }

        Console.WriteLine($"ONNX:     {path} ({new FileInfo(path).Length / 1024.0:N0} KB), " +
                          $"input \"Image\" uint8 [N, 3, {height}, {width}]");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"          micro accuracy on {rows.Length} test images: " +
            $"ONNX Runtime {(double)correct / rows.Length:P1}, " +
            $"library {libraryAccuracy:P1}"));
    }

    /// <summary>RGB planes of every test image, or null when their sizes differ.</summary>
    private static (PixelImage[]? Rows, int Height, int Width) ReadPixels(IReadOnlyList<ImageFile> files, string folder)
    {
        var rows = new PixelImage[files.Count];
        int height = -1, width = -1;
        for (int i = 0; i < files.Count; i++)
        {
            using var image = MLImage.CreateFromFile(Path.Combine(folder, files[i].Path));
            if (i == 0)
            {
                (height, width) = (image.Height, image.Width);
            }
            else if (image.Height != height || image.Width != width)
            {
                return (null, 0, 0);
            }

            rows[i] = new PixelImage { Image = RgbPlanes(image) };
        }

        return (rows, height, width);
    }

    private static byte[] RgbPlanes(MLImage image)
    {
        int count = image.Width * image.Height;
        var (red, blue) = image.PixelFormat switch
        {
            MLPixelFormat.Bgra32 => (2, 0),
            MLPixelFormat.Rgba32 => (0, 2),
            _ => throw new InvalidDataException($"Unexpected pixel format {image.PixelFormat}."),
        };
        ReadOnlySpan<byte> pixels = image.Pixels;
        var planes = new byte[3 * count];
        for (int p = 0; p < count; p++)
        {
            planes[p] = pixels[4 * p + red];
            planes[count + p] = pixels[4 * p + 1];
            planes[2 * count + p] = pixels[4 * p + blue];
        }

        return planes;
    }
}
