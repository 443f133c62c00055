using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Interop;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Persistence;
using MLNet.PromptTuning.Prompting;
using TorchSharp;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// Transformers built directly around a model, with no training, so that adapters can be saved in milliseconds and
/// identically in every process (for fuzz seeds and the kill-during-save writer).
/// </summary>
internal static class TinyAdapters
{
    public static readonly string[] Classes = ["cat", "dog", "fox"];

    /// <summary>
    /// A transformer over a new model on <paramref name="backbone"/>; the model owns the backbone when
    /// <paramref name="ownsBackbone"/> is true. The method's and head's initial values follow
    /// <paramref name="seed"/>; the recorded fingerprint is the backbone's before any bfloat16 conversion.
    /// </summary>
    public static PromptViTTransformer Create(VisionTransformer backbone, PromptMethodOptions options, int seed,
        bool ownsBackbone = false, bool bfloat16 = false)
    {
        string fingerprint = BackboneFingerprint.Compute(backbone);
        torch.manual_seed(seed);
        var model = new PromptedVisionTransformer(backbone, options, Classes.Length, ownsBackbone);
        try
        {
            if (bfloat16)
            {
                model.SetComputePrecision(torch.ScalarType.BFloat16);
            }

            var settings = new ImageScoringSettings("Image", "Score", "PredictedLabel", 8, new ImageInputSpec());
            var classes = ClassLabels.FromValues(TextDataViewType.Instance,
                Classes.Select(n => n.AsMemory()).ToArray());
            return new PromptViTTransformer(new MLContext(seed), model, settings, classes, 1f / 255f, fingerprint,
                torch.CPU);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
