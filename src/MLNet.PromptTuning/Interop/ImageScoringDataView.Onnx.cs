using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// The scored view's part in <c>mlContext.Model.ConvertToOnnx</c>: ML.NET's converter walks back from the pipeline's
/// output through views that implement its internal <see cref="ITransformCanSaveOnnx"/> and asks each to write itself.
/// </summary>
internal sealed partial class ImageScoringDataView : ITransformCanSaveOnnx
{
    /// <inheritdoc/>
    IDataView IDataTransform.Source => _input;

    /// <inheritdoc/>
    void ICanSaveModel.Save(ModelSaveContext ctx) => throw new NotSupportedException(
        "A scored view is not saved on its own; save the transformer that produced it with mlContext.Model.Save.");

    /// <summary>
    /// True when the scorer can be exported. An image column that cannot be an ONNX input is refused here, before
    /// ML.NET's converter declares the graph's inputs, so the error names the column and what to feed instead.
    /// </summary>
    bool ICanSaveOnnx.CanSaveOnnx(OnnxContext ctx)
    {
        ImageScoringOnnxExport.CheckInput(_binding);
        return _core.Scorer is IOnnxExportableImageScorer;
    }

    /// <inheritdoc/>
    void ISaveAsOnnx.SaveAsOnnx(OnnxContext ctx) => ImageScoringOnnxExport.Write(ctx, _core, _binding);
}
