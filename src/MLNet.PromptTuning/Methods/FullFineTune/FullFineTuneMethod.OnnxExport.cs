using MLNet.PromptTuning.Onnx;

namespace MLNet.PromptTuning.Methods.FullFineTune;

/// <summary>
/// ONNX export of full fine-tuning: no hooks; the exported backbone is the model's own trained copy. Stochastic depth
/// is a training-time behaviour and is absent from the exported inference path.
/// </summary>
public sealed partial class FullFineTuneMethod : IOnnxExportablePromptMethod
{
}
