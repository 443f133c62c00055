using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Prompting;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Onnx;

/// <summary>
/// Writes a <see cref="VisionTransformer"/>'s inference pass as ONNX nodes, mirroring <c>VisionTransformer.Run</c>
/// step for step: embed → <c>ExportOnEmbeddings</c> → for each block (<c>ExportOnBlockStarting</c> → block with
/// the method's sites and attention extras → <c>ExportOnBlockFinished</c>) → final norm. Like the forward loop it
/// never asks which method is attached. Weights are read by their timm names and written once, in float32.
/// </summary>
internal sealed class VisionTransformerOnnxExport
{
    private readonly OnnxGraph _graph;
    private readonly VitConfig _config;
    private readonly Dictionary<string, Tensor> _weights;
    private readonly Dictionary<int, OnnxAttentionWeights> _attention = new();
    private readonly Dictionary<string, (OnnxValue Weight, OnnxValue Bias)> _norms = new(StringComparer.Ordinal);

    private VisionTransformerOnnxExport(OnnxGraph graph, VisionTransformer backbone)
    {
        _graph = graph;
        _config = backbone.Config;
        _weights = backbone.state_dict();
    }

    /// <summary>
    /// Writes the backbone with <paramref name="method"/>'s hooks applied to normalised images [B, C, H, W] and
    /// returns the context after the final norm (tokens and layout), ready for <c>ExportSelectFeatures</c>.
    /// </summary>
    public static OnnxPromptContext Run(OnnxGraph graph, VisionTransformer backbone, OnnxValue images,
        PromptMethod? method, IOnnxExportablePromptMethod? export) =>
        new VisionTransformerOnnxExport(graph, backbone).Run(images, backbone.Description, method, export);

    private OnnxPromptContext Run(OnnxValue images, BackboneDescription description, PromptMethod? method,
        IOnnxExportablePromptMethod? export)
    {
        var g = _graph;
        int width = _config.EmbedDim;
        var patches = g.Op("Conv", new[] { images, g.Constant(W("patch_embed.proj.weight"), "patch_embed.weight"),
                g.Constant(W("patch_embed.proj.bias"), "patch_embed.bias") },
            ("kernel_shape", new long[] { _config.PatchSize, _config.PatchSize }),
            ("strides", new long[] { _config.PatchSize, _config.PatchSize }));                  // [B, D, gh, gw]
        patches = g.Transpose(g.Reshape(patches, 0, width, -1), 0, 2, 1);                        // [B, N, D]
        var classTokens = g.ExpandToBatchOf(g.Constant(W("cls_token"), "cls_token"), 3, patches); // [B, 1, D]
        var tokens = g.Add(g.Concat(1, classTokens, patches), g.Constant(W("pos_embed"), "pos_embed"));

        var context = new OnnxPromptContext(g, tokens, TokenLayout.Initial(_config.NumPatches), description,
            PoolFeatures, NormalizePooled, AttentionWeights);
        export?.ExportOnEmbeddings(context);

        for (int layer = 0; layer < _config.Depth; layer++)
        {
            context.Layer = layer;
            context.Attention.Reset();
            export?.ExportOnBlockStarting(layer, context);
            context.SetTokensAfterBlock(Block(layer, context.Tokens, context, method, export));
            export?.ExportOnBlockFinished(layer, context);
            context.Attention.Reset();
        }

        context.Layer = -1;
        if (!_config.UseFcNorm)
        {
            context.SetTokensAfterBlock(LayerNorm(context.Tokens, "norm"));
        }

        return context;
    }

    /// <summary>One pre-norm block, as <c>TransformerBlock.Forward</c> at inference (no stochastic depth).</summary>
    private OnnxValue Block(int layer, OnnxValue x, OnnxPromptContext context, PromptMethod? method,
        IOnnxExportablePromptMethod? export)
    {
        var g = _graph;
        string prefix = $"blocks.{layer}";
        x = AddContribution(x, BlockSite.BeforeAttention, x, context, method, export);

        var extras = context.Attention;
        OnnxValue? extraTokens = extras.ExtraKeyValueTokens is not { } extra
            ? null
            : extras.NormalizeExtraTokens ? LayerNorm(extra, prefix + ".norm1") : extra;
        var attended = SelfAttention(layer, LayerNorm(x, prefix + ".norm1"), extraTokens, extras);
        attended = AddContribution(attended, BlockSite.ParallelToAttention, x, context, method, export);
        x = g.Add(x, attended);

        x = AddContribution(x, BlockSite.AfterAttention, x, context, method, export);

        var mlpInput = LayerNorm(x, prefix + ".norm2");
        mlpInput = AddContribution(mlpInput, BlockSite.MlpInput, x, context, method, export);
        var hidden = g.Gelu(
            g.Linear(mlpInput, W(prefix + ".mlp.fc1.weight"), W(prefix + ".mlp.fc1.bias"), prefix + ".fc1"));
        x = g.Add(x, g.Linear(hidden, W(prefix + ".mlp.fc2.weight"), W(prefix + ".mlp.fc2.bias"), prefix + ".fc2"));

        return AddContribution(x, BlockSite.AfterMlp, x, context, method, export);
    }

    private OnnxValue AddContribution(OnnxValue target, BlockSite site, OnnxValue residual, OnnxPromptContext context,
        PromptMethod? method, IOnnxExportablePromptMethod? export)
    {
        if (method is null || export is null || !method.UsedSites.Contains(site))
        {
            return target;
        }

        var contribution = export.ExportContributeAt(context.Layer, site, residual, context);
        return contribution is { } c ? _graph.Add(target, c) : target;
    }

    /// <summary>Multi-head self-attention with the method's extra keys/values, bias and post-softmax mask.</summary>
    private OnnxValue SelfAttention(int layer, OnnxValue x, OnnxValue? extraTokens, OnnxAttentionExtras extras)
    {
        var g = _graph;
        int width = _config.EmbedDim, heads = _config.NumHeads, headDim = _config.HeadDim;
        var weights = AttentionWeights(layer);
        var projected = g.Linear(x, weights.QkvWeightTransposed, weights.QkvBias);               // [B, T, 3D]
        var qkv = g.Transpose(g.Reshape(projected, 0, 0, 3, heads, headDim), 2, 0, 3, 1, 4);     // [3, B, H, T, hd]
        var q = g.Squeeze(g.Slice(qkv, 0, 0, 1), 0);                                             // [B, H, T, hd]
        var k = g.Squeeze(g.Slice(qkv, 0, 1, 1), 0);
        var v = g.Squeeze(g.Slice(qkv, 0, 2, 1), 0);

        if (extraTokens is { } extra)
        {
            // Extra tokens only act as keys and values: the frozen k and v columns of the fused projection.
            var kvWeight = g.Slice(weights.QkvWeightTransposed, 1, width, 2 * width);            // [D, 2D]
            OnnxValue? kvBias = weights.QkvBias is { } bias ? g.Slice(bias, 0, width, 2 * width) : null;
            var kv = g.ExpandToBatchOf(g.Linear(extra, kvWeight, kvBias), 3, x);                 // [B, P, 2D]
            kv = g.Transpose(g.Reshape(kv, 0, 0, 2, heads, headDim), 2, 0, 3, 1, 4);             // [2, B, H, P, hd]
            k = g.Concat(2, k, g.Squeeze(g.Slice(kv, 0, 0, 1), 0));                              // [B, H, T+P, hd]
            v = g.Concat(2, v, g.Squeeze(g.Slice(kv, 0, 1, 1), 0));
        }

        // softmax(q·kᵀ/(√d·τ) + bias), as the library's attention computes it.
        double scale = 1.0 / (Math.Sqrt(headDim) * extras.LogitTemperature);
        var attended = g.Attention(q, k, v, 4, scale, extras.AdditiveBias, extras.PostSoftmaxMask);
        var merged = g.Reshape(g.Transpose(attended, 0, 2, 1, 3), 0, 0, width);                 // [B, T, D]
        return g.Linear(merged, weights.ProjWeightTransposed, weights.ProjBias);
    }

    /// <summary>Block <paramref name="layer"/>'s attention weights, written once and shared with methods.</summary>
    private OnnxAttentionWeights AttentionWeights(int layer)
    {
        if (!_attention.TryGetValue(layer, out var weights))
        {
            string prefix = $"blocks.{layer}.attn";
            weights = new OnnxAttentionWeights(
                _graph.LinearWeight(W(prefix + ".qkv.weight"), prefix + ".qkv.weight"),
                _config.QkvBias ? _graph.Constant(W(prefix + ".qkv.bias"), prefix + ".qkv.bias") : null,
                _graph.LinearWeight(W(prefix + ".proj.weight"), prefix + ".proj.weight"),
                _graph.Constant(W(prefix + ".proj.bias"), prefix + ".proj.bias"));
            _attention[layer] = weights;
        }

        return weights;
    }

    /// <summary>The backbone's pooling, as <c>VisionTransformer.PoolFeatures</c>.</summary>
    private OnnxValue PoolFeatures(OnnxPromptContext context) => _config.GlobalPooling switch
    {
        GlobalPooling.ClassToken => NormalizePooled(
            _graph.Squeeze(context.GetSegment(TokenLayout.ClassTokenSegment), 1)),
        GlobalPooling.Average => NormalizePooled(_graph.ReduceMean(
            _graph.Slice(context.Tokens, 1, context.Layout.PrefixCount,
                context.Layout.Count - context.Layout.PrefixCount),
            new long[] { 1 }, keepDims: false)),
        _ => throw new NotSupportedException($"GlobalPooling {_config.GlobalPooling} cannot be exported."),
    };

    private OnnxValue NormalizePooled(OnnxValue pooled) => _config.UseFcNorm ? LayerNorm(pooled, "fc_norm") : pooled;

    /// <summary>A backbone LayerNorm; its weights are written once however often it is applied.</summary>
    private OnnxValue LayerNorm(OnnxValue x, string name)
    {
        if (!_norms.TryGetValue(name, out var parameters))
        {
            parameters = (_graph.Constant(W(name + ".weight"), name + ".weight"),
                _graph.Constant(W(name + ".bias"), name + ".bias"));
            _norms[name] = parameters;
        }

        return _graph.LayerNorm(x, parameters.Weight, parameters.Bias, _config.LayerNormEps);
    }

    private Tensor W(string name) => _weights.TryGetValue(name, out var tensor)
        ? tensor
        : throw new InvalidOperationException($"The backbone has no weight '{name}'.");
}
