using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLNet.PromptTuning.Samples.Benchmarks;

/// <summary>One worker's measurement; both sides print it as one JSON line with snake_case keys.</summary>
internal sealed class RunResult
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string Side { get; set; } = "";

    public string? Variant { get; set; }

    public string? Model { get; set; }

    public string? Mode { get; set; }

    public int Batch { get; set; }

    public int Threads { get; set; }

    public double StepMsMedian { get; set; }

    public double[]? StepMsAll { get; set; }

    public double InferBatchMsMedian { get; set; }

    public double RssStartMb { get; set; }

    public double TrainHwmMb { get; set; }

    public double HwmMb { get; set; }

    public double ForeignPctTrain { get; set; }

    public double StealPctTrain { get; set; }

    public double ForeignPctInfer { get; set; }

    public double StealPctInfer { get; set; }

    public double ForeignPct { get; set; }

    public double StealPct { get; set; }

    public double TrainWallS { get; set; }

    public long Trainable { get; set; }

    public string? Torch { get; set; }

    public string? Allocator { get; set; }

    // matmul
    public int Size { get; set; }

    public double GflopsBest { get; set; }

    public double GflopsMedian { get; set; }

    // soak
    public Dictionary<string, double>? RssMb { get; set; }

    public double MsPerStep { get; set; }

    public long? LiveTensors { get; set; }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static RunResult Parse(string line) =>
        JsonSerializer.Deserialize<RunResult>(line, Json) ?? throw new InvalidDataException($"Not a result: {line}");
}
