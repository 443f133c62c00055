using System.Globalization;
using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Samples.QuickStart;

/// <summary>Command-line settings of the QuickStart, with defaults that use the embedded backbone and images.</summary>
public sealed class QuickStartSettings
{
    private static string Usage => $$"""
        Usage: dotnet run --project samples/QuickStart -- [options]
          --method M        {{string.Join(", ", PromptMethodRegistry.Default.Ids)}} (default vpt)
          --epochs N        training epochs (default 15)
          --batch-size N    images per step (default 32)
          --lr X            learning rate (default: the method's own, see docs/options.md)
          --device D        auto (default), cpu, cuda or cuda:N
          --data DIR        image folder: DIR/train/<class>/*, DIR/test/<class>/*, or DIR/<class>/* (split 80/20)
          --backbone FILE   backbone weights (safetensors written by this library; others need code, see README)
          --output DIR      where the model zip is written (default ./output)
          --export-onnx F   also write the trained model as ONNX to F and print ONNX Runtime's test accuracy
        """;

    public string Method { get; private set; } = "vpt";

    public int Epochs { get; private set; } = 15;

    public int BatchSize { get; private set; } = 32;

    /// <summary>The --lr value; null lets each method train at its own default rate and warm-up.</summary>
    public double? LearningRate { get; private set; }

    public string Device { get; private set; } = "auto";

    public string DataFolder { get; private set; } = Path.Combine(AppContext.BaseDirectory, "Assets",
        "fashion-mnist-unseen");

    public string BackbonePath { get; private set; } = DefaultBackbone();

    public string OutputFolder { get; private set; } = "output";

    /// <summary>Where to write the ONNX export, or null for none.</summary>
    public string? OnnxPath { get; private set; }

    /// <summary>Parses the arguments; prints usage and returns null on --help or a mistake.</summary>
    public static QuickStartSettings? Parse(string[] args)
    {
        var settings = new QuickStartSettings();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            if (name is "-h" or "--help")
            {
                Console.WriteLine(Usage);
                return null;
            }

            if (i + 1 >= args.Length)
            {
                Console.Error.WriteLine($"Option {name} needs a value.\n{Usage}");
                return null;
            }

            string value = args[++i];
            switch (name)
            {
                case "--method": settings.Method = value.ToLowerInvariant(); break;
                case "--epochs": settings.Epochs = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--batch-size": settings.BatchSize = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--lr": settings.LearningRate = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--device": settings.Device = value; break;
                case "--data": settings.DataFolder = Path.GetFullPath(value); break;
                case "--backbone": settings.BackbonePath = Path.GetFullPath(value); break;
                case "--output": settings.OutputFolder = value; break;
                case "--export-onnx": settings.OnnxPath = value; break;
                default:
                    Console.Error.WriteLine($"Unknown option {name}.\n{Usage}");
                    return null;
            }
        }

        return settings;
    }

    private static string DefaultBackbone()
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "Assets", "backbone");
        return Directory.Exists(folder)
            ? Directory.GetFiles(folder, "*.safetensors").OrderBy(f => f, StringComparer.Ordinal).FirstOrDefault()
              ?? Path.Combine(folder, "backbone.safetensors")
            : Path.Combine(folder, "backbone.safetensors");
    }
}
