using Microsoft.ML;
using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Tests.Methods;
using Xunit;
using Xunit.Abstractions;

namespace MLNet.PromptTuning.Tests.Onnx;

/// <summary>
/// Every method configuration of the contract matrix, on the embedded backbone and real Fashion-MNIST test images:
/// the exported ONNX file scores like the library's own <c>Transform</c> in ONNX Runtime and in ML.NET's
/// <c>ApplyOnnxModel</c>, within <see cref="OnnxParity.Tolerance"/>, and predicts the same classes.
/// </summary>
public sealed class OnnxExportParityTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly string _folder = Directory.CreateTempSubdirectory("onnx-parity-").FullName;

    public OnnxExportParityTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    // Every case but SEP's batch-coupled settings, which the export refuses (OnnxExportContractTests).
    [Theory]
    [MemberData(nameof(MethodCases.BatchIndependentNames), MemberType = typeof(MethodCases))]
    public void ExportedModelScoresLikeTransformInOnnxRuntimeAndApplyOnnxModel(string methodCase)
    {
        var ml = new MLContext(seed: 1);
        using VisionTransformer backbone = BackboneCheckpoint.LoadBackbone(OnnxParity.EmbeddedBackbonePath);
        using var model = OnnxParity.CreateTransformer(ml, backbone, MethodCases.Create(methodCase));
        var images = OnnxParity.RealImages(perClass: 2).Select(p => p.Select(b => (float)b).ToArray()).ToList();
        var data = OnnxParity.FloatPixels(ml, images, 1, 28, 28);

        var result = OnnxParity.Run(ml, model, data, _folder);

        _output.WriteLine($"{methodCase}: max |Δ| ONNX Runtime {result.MaxDiffOnnxRuntime:E2}, " +
                          $"ApplyOnnxModel {result.MaxDiffApplyOnnxModel:E2}, {result.Model.Length:N0} bytes");
        Assert.InRange(result.MaxDiffOnnxRuntime, 0f, OnnxParity.Tolerance);
        Assert.InRange(result.MaxDiffApplyOnnxModel, 0f, OnnxParity.Tolerance);
        Assert.Equal(result.LibraryKeys, result.OnnxKeys);
        Assert.True(result.Library.Select(s => Array.IndexOf(s, s.Max())).Distinct().Count() > 1,
            "The test model should not predict one class for every image.");
    }
}
