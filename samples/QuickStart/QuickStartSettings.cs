using System.CommandLine;
using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Samples.QuickStart;

/// <summary>Command-line settings of the QuickStart, with defaults that use the embedded backbone and images.</summary>
public sealed class QuickStartSettings
{
    private static readonly Option<string> MethodOption = SampleOption.Choice("--method",
        "prompt method to train and compare with the linear probe", "vpt",
        PromptMethodRegistry.Default.Ids.ToArray());

    private static readonly Option<int> EpochsOption = SampleOption.Value("--epochs", "training epochs", 15, "N",
        minimum: 1);

    private static readonly Option<int> BatchSizeOption = SampleOption.Value("--batch-size", "images per step", 32,
        "N", minimum: 1);

    private static readonly Option<double?> LearningRateOption = SampleOption.Optional<double>("--lr",
        "peak learning rate", "the method's own rate and warm-up, see docs/options.md", "X");

    private static readonly DefaultedOption<string> DeviceOption = SampleOption.Text("--device",
        "auto, cpu, cuda or cuda:N", () => "auto", "D");

    private static readonly DefaultedOption<string> DataOption = SampleOption.Text("--data",
        "image folder: DIR/train/<class>/*, DIR/test/<class>/*, or DIR/<class>/* (split 80/20)",
        () => Path.Combine(AppContext.BaseDirectory, "Assets", "fashion-mnist-unseen"), "DIR",
        "the embedded Fashion-MNIST images of classes the backbone never saw");

    private static readonly DefaultedOption<string> BackboneOption = SampleOption.Text("--backbone",
        "backbone weights (safetensors written by this library; others need code, see README)", DefaultBackbone,
        "FILE", "the embedded backbone");

    private static readonly DefaultedOption<string> OutputOption = SampleOption.Text("--output",
        "where the model zip is written", () => "output", "DIR");

    private static readonly Option<string?> OnnxOption = SampleOption.OptionalText("--export-onnx",
        "also write the trained model as ONNX to FILE and print ONNX Runtime's test accuracy", "no export", "FILE");

    /// <summary>The prompt method id (see <see cref="PromptMethodRegistry"/>).</summary>
    public string Method { get; private init; } = "vpt";

    /// <summary>Training epochs.</summary>
    public int Epochs { get; private init; } = 15;

    /// <summary>Images per optimisation step.</summary>
    public int BatchSize { get; private init; } = 32;

    /// <summary>The --lr value; null lets each method train at its own default rate and warm-up.</summary>
    public double? LearningRate { get; private init; }

    /// <summary>auto, cpu, cuda or cuda:N.</summary>
    public string Device { get; private init; } = "auto";

    /// <summary>The image folder (absolute).</summary>
    public string DataFolder { get; private init; } = "";

    /// <summary>The backbone weights file (absolute).</summary>
    public string BackbonePath { get; private init; } = "";

    /// <summary>Where the model zip is written.</summary>
    public string OutputFolder { get; private init; } = "output";

    /// <summary>Where to write the ONNX export, or null for none.</summary>
    public string? OnnxPath { get; private init; }

    /// <summary>The QuickStart's command: every option with its default.</summary>
    public static RootCommand CreateCommand() =>
        SampleCommandLine.CreateRoot(
            "QuickStart: prompt-tune the embedded backbone on images of classes it never saw, compare with a linear " +
            "probe, save, reload and predict.",
            new Option[]
            {
                MethodOption, EpochsOption, BatchSizeOption, LearningRateOption, DeviceOption, DataOption,
                BackboneOption, OutputOption, OnnxOption,
            });

    /// <summary>The settings a parsed command line asks for.</summary>
    public static QuickStartSettings From(ParseResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new QuickStartSettings
        {
            Method = result.GetValue(MethodOption)!,
            Epochs = result.GetValue(EpochsOption),
            BatchSize = result.GetValue(BatchSizeOption),
            LearningRate = result.GetValue(LearningRateOption),
            Device = DeviceOption.ValueIn(result),
            DataFolder = Path.GetFullPath(DataOption.ValueIn(result)),
            BackbonePath = Path.GetFullPath(BackboneOption.ValueIn(result)),
            OutputFolder = OutputOption.ValueIn(result),
            OnnxPath = result.GetValue(OnnxOption),
        };
    }

    /// <summary>Parses <paramref name="args"/>; a mistake throws one <see cref="ArgumentException"/> naming the option
    /// and the value.</summary>
    public static QuickStartSettings Parse(IReadOnlyList<string> args) =>
        From(SampleCommandLine.ParseOrThrow(CreateCommand(), args));

    private static string DefaultBackbone()
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "Assets", "backbone");
        return Directory.Exists(folder)
            ? Directory.GetFiles(folder, "*.safetensors").OrderBy(f => f, StringComparer.Ordinal).FirstOrDefault()
              ?? Path.Combine(folder, "backbone.safetensors")
            : Path.Combine(folder, "backbone.safetensors");
    }
}
