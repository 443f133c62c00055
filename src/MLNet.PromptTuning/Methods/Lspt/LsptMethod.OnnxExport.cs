using MLNet.PromptTuning.Onnx;
using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Methods.Lspt;

/// <summary>
/// ONNX export of LSPT: the blocks are unrolled in the graph, so the LSTM's (h, c) state travels from block to block
/// as graph values, exactly as the forward pass carries it in the context's state. Gates σ(γ_l) and the trained
/// attention temperatures are constants.
/// Prompt dropout is training-only.
/// </summary>
public sealed partial class LsptMethod : IOnnxExportablePromptMethod
{
    private const string LstmWeightsKey = "lspt.lstm_weights";

    void IOnnxExportablePromptMethod.ExportOnEmbeddings(OnnxPromptContext context)
    {
        int length = _options.PromptLength;
        var prompts = context.ExpandToBatch(context.Constant(_prompts, "lspt.prompts"), 3);     // [B, M, D]
        context.InsertSegment(Segment, prompts, length);
        context.SetState(InputPromptsKey, prompts);
        if (_lstm is not null)
        {
            // h = c = 0 before block 0, one row per prompt of every image.
            var g = context.Graph;
            int hidden = _lstm.HiddenSize;
            var zero = g.Constant(new float[length * hidden], new long[] { 1, length, hidden }, "lspt.zeros");
            var zeros = g.Reshape(context.ExpandToBatch(zero, 3), -1, hidden);                  // [B·M, H]
            context.SetState(HiddenStateKey, zeros);
            context.SetState(CellStateKey, zeros);
        }
    }

    void IOnnxExportablePromptMethod.ExportOnBlockStarting(int layer, OnnxPromptContext context)
    {
        if (_temperature is not null)
        {
            // The same clamp as scoring, taken once: the trained temperature is a constant of the exported model.
            using var temperature = ClampedTemperature(layer);
            context.Attention.DivideLogitsBy(temperature.item<float>());
        }

        if (layer < _gateCount && _options.SpatialCoding != LsptSpatialCoding.Off &&
            _options.PatchMeanSource == LsptPatchMeanSource.BlockInput)
        {
            context.SetState(InputPatchMeanKey, ExportPatchMean(context));
        }
    }

    void IOnnxExportablePromptMethod.ExportOnBlockFinished(int layer, OnnxPromptContext context)
    {
        if (layer >= _gateCount)
        {
            return;
        }

        var g = context.Graph;
        var promptsIn = context.GetState(InputPromptsKey)!.Value;                               // [B, M, D]
        var promptsOut = context.GetSegment(Segment);                                            // [B, M, D]
        OnnxValue? spatial = _options.SpatialCoding == LsptSpatialCoding.Off
            ? null
            : _options.PatchMeanSource == LsptPatchMeanSource.BlockOutput
                ? ExportPatchMean(context)
                : context.GetState(InputPatchMeanKey)!.Value;                                   // [B, 1, D]

        var coded = _options.SpatialCoding == LsptSpatialCoding.OutputPrompts
            ? g.Add(promptsOut, spatial!.Value)
            : promptsOut;
        var longTerm = _options.LongTermCoding switch
        {
            LsptLongTermCoding.Replace => ExportLstmStep(coded, context),
            LsptLongTermCoding.Residual => g.Add(coded, ExportLstmStep(coded, context)),
            _ => coded,
        };

        var next = longTerm;
        if (_gateLogits is not null)
        {
            using var gate = _gateLogits[layer].sigmoid();
            using var complement = 1 - gate;
            next = g.Add(g.Mul(context.Constant(gate, $"lspt.gate.{layer}"), longTerm),
                g.Mul(context.Constant(complement, $"lspt.gate_complement.{layer}"), promptsIn));
        }

        if (_options.SpatialCoding == LsptSpatialCoding.InputPrompts)
        {
            next = g.Add(next, spatial!.Value);
        }

        context.ReplaceSegment(Segment, next, _options.PromptLength);
        context.SetState(InputPromptsKey, next);
    }

    private static OnnxValue ExportPatchMean(OnnxPromptContext context) =>
        context.Graph.ReduceMean(context.GetSegment(TokenLayout.PatchSegment), new long[] { 1 }, keepDims: true);

    /// <summary>One step of the shared LSTM on every prompt of every image; updates the carried (h, c).</summary>
    private OnnxValue ExportLstmStep(OnnxValue coded, OnnxPromptContext context)
    {
        var g = context.Graph;
        int width = Backbone.EmbedDim, length = _options.PromptLength;
        var weights = LstmWeights(context);
        var (hidden, cell) = _lstm!.ExportStep(g, weights.Cell, g.Reshape(coded, -1, width),
            context.GetState(HiddenStateKey)!.Value, context.GetState(CellStateKey)!.Value);      // [B·M, H] each
        context.SetState(HiddenStateKey, hidden);
        context.SetState(CellStateKey, cell);
        var output = weights.Projection is { } projection
            ? g.Linear(hidden, projection.Weight, projection.Bias)
            : hidden;
        return g.Reshape(output, -1, length, width);                                             // [B, M, D]
    }

    /// <summary>The LSTM's and projection's constants, written on first use and shared by the later blocks.</summary>
    private LsptOnnxWeights LstmWeights(OnnxPromptContext context) => context.GetOrCreate(LstmWeightsKey, () =>
    {
        var g = context.Graph;
        return new LsptOnnxWeights(_lstm!.ExportWeights(g, "lspt.lstm"),
            _projection is null
                ? null
                : (g.LinearWeight(_projection.weight!, "lspt.lstm_proj.weight"),
                    g.Constant(_projection.bias!, "lspt.lstm_proj.bias")));
    });

    private sealed record LsptOnnxWeights(LstmCell.OnnxWeights Cell, (OnnxValue Weight, OnnxValue Bias)? Projection);
}
