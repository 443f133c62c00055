using System.Text.Json;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Training;

namespace MLNet.PromptTuning.Persistence;

/// <summary>The JSON manifest beside an adapter's weights (<c>adapter_manifest.json</c>).</summary>
internal sealed class AdapterManifest
{
    public string? Format { get; set; }

    public int FormatVersion { get; set; }

    public string? LibraryVersion { get; set; }

    public string? Method { get; set; }

    /// <summary>The assembly that defines the method when it is not this library (how a fresh process finds
    /// it).</summary>
    public string? MethodAssembly { get; set; }

    public JsonElement MethodOptions { get; set; }

    public string[]? Classes { get; set; }

    public string? ImageColumnName { get; set; }

    public string? ScoreColumnName { get; set; }

    public string? PredictedLabelColumnName { get; set; }

    public int InferenceBatchSize { get; set; } = 32;

    public PixelShape? PixelVectorShape { get; set; }

    public float PixelValueScale { get; set; } = 1f / 255f;

    public TrainingPrecision Precision { get; set; }

    public VitConfig? Backbone { get; set; }

    public string? BackboneFingerprint { get; set; }

    /// <summary>SHA-256 of <c>adapter_model.safetensors</c> as lower-case hex (format version 2; absent in version
    /// 1).</summary>
    public string? WeightsSha256 { get; set; }
}
