using MLNet.PromptTuning.Onnx;

namespace MLNet.PromptTuning.Methods.LinearProbe;

/// <summary>ONNX export of the linear probe: every hook keeps its default, as at run time.</summary>
public sealed partial class LinearProbeMethod : IOnnxExportablePromptMethod
{
}
