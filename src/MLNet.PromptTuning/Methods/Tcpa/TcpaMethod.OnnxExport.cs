using MLNet.PromptTuning.Onnx;
using MLNet.PromptTuning.Prompting;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Methods.Tcpa;

/// <summary>
/// ONNX export of TCPA: every block's pool prompts join its attention as extra keys and values, and the visibility
/// mask is computed in the graph from the tokens entering the block (cosine similarity to the keys, TopK, one-hot),
/// as the forward pass computes it when not training. The VFPT Fourier transform acts on parameters only, so its
/// result is a constant. Dropout, the random selection epochs and the pull loss are training-only.
/// </summary>
public sealed partial class TcpaMethod : IOnnxExportablePromptMethod
{
    void IOnnxExportablePromptMethod.ExportOnEmbeddings(OnnxPromptContext context)
    {
        if (_vptPrompts is not null)
        {
            context.InsertSegment(VptSegment, ExportVptTokens(0, context), _options.VptPromptLength);
        }
    }

    void IOnnxExportablePromptMethod.ExportOnBlockStarting(int layer, OnnxPromptContext context)
    {
        if (_vptPrompts is not null && layer >= 1)
        {
            context.ReplaceSegment(VptSegment, ExportVptTokens(layer, context), _options.VptPromptLength);
        }

        context.Attention.SetExtraKeyValues(ExportPoolPrompts(layer, context));
        if (_options.Coordination == TcpaCoordination.None)
        {
            return;
        }

        var g = context.Graph;
        var visible = ExportVisibility(layer, context);                                          // [B, 1, T, T+P]
        if (_options.MaskMode == TcpaMaskMode.PostSoftmaxMultiply)
        {
            context.Attention.MultiplyPostSoftmaxMask(visible);
        }
        else
        {
            context.Attention.AddBias(g.Op("Where", new[]
            {
                g.Op("Equal", new[] { visible, g.Scalar(0f) }), g.Scalar(float.NegativeInfinity), g.Scalar(0f),
            }));
        }
    }

    /// <summary>Layer <paramref name="layer"/>'s pool prompts, class pool first, as a constant [1, P, D].</summary>
    private OnnxValue ExportPoolPrompts(int layer, OnnxPromptContext context)
    {
        using var scope = torch.NewDisposeScope();
        var prompts = torch.cat(new[] { ClassPool.PromptsOf(layer), ImagePool.PromptsOf(layer) }, 0).unsqueeze(0);
        if (_options.FourierPrompts)
        {
            prompts = torch.fft.fft2(prompts).real;
        }

        return context.Constant(prompts, $"tcpa.pool_prompts.{layer}");
    }

    /// <summary>The export twin of <see cref="Visibility"/> at inference, [B, 1, T, T + P].</summary>
    private OnnxValue ExportVisibility(int layer, OnnxPromptContext context)
    {
        var g = context.Graph;
        var layout = context.Layout;
        int classTokens = ClassPool.TokenCount, imageTokens = ImagePool.TokenCount;
        var classRows = context.GetTokensOfRole(TokenRole.Prefix);                              // [B, Nc, D]
        var imageRows = context.GetTokensOfRole(TokenRole.Patches);                             // [B, N, D]
        int classCount = layout.RangesOf(TokenRole.Prefix).Sum(r => r.Length);
        int imageCount = layout.RangesOf(TokenRole.Patches).Sum(r => r.Length);

        OnnxValue? classVisible = null, imageVisible = null;
        if (_options.Coordination == TcpaCoordination.RoleAndToken)
        {
            classVisible = classRows is { } c
                ? ExportSelect(ClassPool, _options.ClassTopK, layer, c, classCount, g, "class")
                : null;
            imageVisible = imageRows is { } i
                ? ExportSelect(ImagePool, _options.ImageTopK, layer, i, imageCount, g, "image")
                : null;
        }
        else
        {
            classVisible = classRows is null ? null : Filled(context, 1f, classCount, classTokens);
            imageVisible = imageRows is null ? null : Filled(context, 1f, imageCount, imageTokens);
        }

        // Pool columns are class prompts then image prompts; rows follow the layout's segments in order.
        var rows = new List<OnnxValue>();
        int classUsed = 0, imageUsed = 0;
        foreach (var segment in layout.Segments)
        {
            int length = segment.Length;
            switch (segment.Role)
            {
                case TokenRole.Prefix:
                    rows.Add(g.Concat(2, g.Slice(classVisible!.Value, 1, classUsed, length),
                        Filled(context, 0f, length, imageTokens)));
                    classUsed += length;
                    break;
                case TokenRole.Patches:
                    rows.Add(g.Concat(2, Filled(context, 0f, length, classTokens),
                        g.Slice(imageVisible!.Value, 1, imageUsed, length)));
                    imageUsed += length;
                    break;
                default:
                    rows.Add(Filled(context, 0f, length, classTokens + imageTokens));
                    break;
            }
        }

        var poolColumns = g.Concat(1, rows.ToArray());                                           // [B, T, P]
        return g.Unsqueeze(g.Concat(2, Filled(context, 1f, layout.Count, layout.Count), poolColumns), 1);
    }

    private static OnnxValue ExportSelect(TcpaPromptPool pool, int topK, int layer, OnnxValue rows, int perImage,
        OnnxGraph g, string role)
    {
        using var keys = pool.Keys![layer];
        var queries = g.Reshape(rows, -1, keys.shape[1]);                                        // [B·n, D]
        var visible = TcpaSelection.ExportVisibility(g, keys, queries, topK, pool.Length, $"tcpa.{role}_keys.{layer}");
        return g.Reshape(visible, -1, perImage, pool.TokenCount);                               // [B, n, K·ℓ]
    }

    /// <summary>A [B, rows, columns] tensor filled with <paramref name="value"/>.</summary>
    private static OnnxValue Filled(OnnxPromptContext context, float value, int rows, int columns)
    {
        var g = context.Graph;
        var cell = g.Reshape(g.Scalar(value), 1, 1, 1);
        return g.Expand(cell, g.Concat(0, g.Slice(g.Shape(context.Tokens), 0, 0, 1), g.Int64s(rows, columns)));
    }

    private OnnxValue ExportVptTokens(int layer, OnnxPromptContext context)
    {
        using var prompts = _vptPrompts![layer].unsqueeze(0);                                    // [1, Pv, D]
        return context.ExpandToBatch(context.Constant(prompts, $"tcpa.vpt_prompts.{layer}"), 3);
    }
}
