using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Methods.Sep;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Methods;

/// <summary>The invariants of methods/sep.md §10 (vision side) and the trainable-parameter formulas of §3.3 and
/// §6.</summary>
public sealed class SepTests
{
    private const string Prompts = "prompt.sep.prompt_embeddings";

    [Fact]
    public void PromptsAreAppendedAfterThePatchesWithoutPositionEmbedding()
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, Options(), 5);
        string[]? names = null;
        Tensor? inserted = null;
        var recorder = new HookRecorder(model.Method, backbone.Description)
        {
            AfterEmbeddings = ctx =>
            {
                names = ctx.Layout.Segments.Select(s => s.Name).ToArray();
                inserted = HookRecorder.Keep(ctx.GetSegment(SepMethod.Segment));
            },
        };
        using var images = TinyModels.Images(batch: 2);
        using var logits = HookRecorder.LogitsWith(model, recorder, images);
        Assert.Equal(new[] { TokenLayout.ClassTokenSegment, TokenLayout.PatchSegment, SepMethod.Segment }, names);
        Assert.True(TinyModels.Same(inserted!, model.state_dict()[Prompts].expand(2, -1, -1)));
    }

    [Theory]
    [InlineData(SepTokenSelection.PerSample)]
    [InlineData(SepTokenSelection.BatchPooled)]
    public void SelectionTakesTheTopEnergyPretrainedTokensAtChosenBlocksOnly(SepTokenSelection selection)
    {
        using var backbone = TinyModels.Backbone(depth: 4);
        using var model = new PromptedVisionTransformer(backbone, Options(selection: selection), 5);
        var inputs = new Dictionary<int, Tensor>();
        var chosen = new Dictionary<int, Tensor?>();
        var recorder = new HookRecorder(model.Method, backbone.Description)
        {
            BeforeBlockStarting = (layer, ctx) => inputs[layer] = HookRecorder.Keep(ctx.Tokens),
            AfterBlockStarting = (layer, ctx) =>
                chosen[layer] = ctx.GetState(SepMethod.SelectionKey) is { } s ? HookRecorder.Keep(s) : null,
        };
        using var images = TinyModels.Images(batch: 3);
        using var logits = HookRecorder.LogitsWith(model, recorder, images);

        Assert.Null(chosen[0]);                                   // block 0 sees the raw prompts
        bool rowsDiffer = false;
        for (int layer = 1; layer < 4; layer++)
        {
            var positions = chosen[layer]!;                        // [B, M]
            Assert.Equal(new long[] { 3, 3 }, positions.shape);
            Assert.Equal(ScalarType.Int64, positions.dtype);
            Assert.True(positions.max().item<long>() < 17, "a prompt slot was selected");
            for (int b = 0; b < 3; b++)
            {
                Assert.Equal(3, positions[b].data<long>().Distinct().Count());
            }

            var energy = inputs[layer][.., ..17].pow(2).mean(new long[] { -1 });   // [B, 1+N]
            if (selection == SepTokenSelection.BatchPooled)
            {
                energy = energy.mean(new long[] { 0 }, keepdim: true).expand(3, -1);
            }

            var expected = energy.topk(3, dim: -1).indexes;
            Assert.True(TinyModels.Same(expected, positions), $"layer {layer}");
            rowsDiffer |= !TinyModels.Same(positions[0], positions[1]) || !TinyModels.Same(positions[1], positions[2]);
        }

        Assert.Equal(selection == SepTokenSelection.PerSample, rowsDiffer);
    }

    [Theory]
    [InlineData(SepFusionAxis.Tokens)]
    [InlineData(SepFusionAxis.Batch)]
    public void FusionModuleAtInitFollowsTheSpecFormula(SepFusionAxis axis)
    {
        torch.manual_seed(21);
        using var tfm = new TokenFusionModule(16, 4, 8, 0.75);
        var sd = tfm.state_dict();
        Assert.Equal(0.75f, sd["s1"].item<float>());
        Assert.Equal(0.75f, sd["s2"].item<float>());
        Assert.Equal(0f, sd["in_proj_bias"].abs().max().item<float>());
        Assert.Equal(0f, sd["out_proj.bias"].abs().max().item<float>());
        Assert.True(sd["in_proj_weight"].abs().max().item<float>() <= Math.Sqrt(6.0 / (16 + 48)));
        Assert.False(sd.ContainsKey("mlp_fc.bias"));
        Assert.False(sd.ContainsKey("mlp_proj.bias"));

        tfm.to(ScalarType.Float64);
        using (torch.no_grad())
        {
            // Non-trivial norms and biases make the check stronger; s1 and s2 keep their initial 0.75.
            foreach (var key in new[] { "ln_a.weight", "ln_a.bias", "ln_b.weight", "ln_b.bias", "in_proj_bias",
                "out_proj.bias" })
            {
                tfm.state_dict()[key].normal_(key.EndsWith("weight") ? 1 : 0, 0.3);
            }
        }

        using var scope = torch.NewDisposeScope();
        var r = torch.randn(new long[] { 3, 2, 16 }, ScalarType.Float64);
        var pq = torch.randn(new long[] { 3, 2, 16 }, ScalarType.Float64);
        var actual = tfm.call(r, pq, axis, p => p);
        var expected = ReferenceFusion(tfm.state_dict(), "", r, pq, axis, heads: 4);
        Assert.True((actual - expected).abs().max().item<double>() < 1e-10);
    }

    [Fact]
    public void FusionWithUnitGatesReturnsTheRepresentatives()
    {
        using var tfm = new TokenFusionModule(16, 4, 8, 1.0);
        using var scope = torch.NewDisposeScope();
        var r = torch.randn(3, 2, 16);
        var pq = torch.randn(3, 2, 16);
        foreach (var axis in new[] { SepFusionAxis.Tokens, SepFusionAxis.Batch })
        {
            Assert.True(TinyModels.Same(r, tfm.call(r, pq, axis, p => p)));
        }
    }

    [Fact]
    public void BatchAxisWithOneImageIgnoresThePromptQueriesButTokenAxisDoesNot()
    {
        torch.manual_seed(4);
        using var tfm = new TokenFusionModule(16, 4, 8, 0.75);
        using var scope = torch.NewDisposeScope();
        var r = torch.randn(1, 3, 16);
        var pq = torch.randn(1, 3, 16);
        var other = torch.randn(1, 3, 16);
        Assert.True(TinyModels.MaxAbsDifference(
            tfm.call(r, pq, SepFusionAxis.Batch, p => p), tfm.call(r, other, SepFusionAxis.Batch, p => p)) < 1e-6f);
        Assert.True(TinyModels.MaxAbsDifference(
            tfm.call(r, pq, SepFusionAxis.Tokens, p => p), tfm.call(r, other, SepFusionAxis.Tokens, p => p)) > 1e-4f);
    }

    [Fact]
    public void PromptSlotsReceiveTheFusionOfTheSelectedTokensAndThePreviousPromptStates()
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, Options(), 5);
        Tensor? input = null, positions = null, output = null;
        var recorder = new HookRecorder(model.Method, backbone.Description)
        {
            BeforeBlockStarting = (layer, ctx) => input = layer == 1 ? HookRecorder.Keep(ctx.Tokens) : input,
            AfterBlockStarting = (layer, ctx) =>
            {
                if (layer == 1)
                {
                    positions = HookRecorder.Keep(ctx.GetState(SepMethod.SelectionKey)!);
                    output = HookRecorder.Keep(ctx.GetSegment(SepMethod.Segment));
                }
            },
        };
        using var images = TinyModels.Images(batch: 2);
        using var logits = HookRecorder.LogitsWith(model, recorder, images);

        using var scope = torch.NewDisposeScope();
        var r = input!.gather(1, positions!.unsqueeze(-1).expand(-1, -1, 32));             // [B, M, D]
        // slots after cls + 16 patches
        var pq = input[.., 17..];
        var expected = ReferenceFusion(model.state_dict(), "prompt.sep.fusion.0.", r, pq, SepFusionAxis.Tokens,
            heads: 2);
        Assert.True(TinyModels.MaxAbsDifference(expected, output!) < 1e-5f);
    }

    [Fact]
    public void DefaultScoresDoNotDependOnTheOtherImagesOfTheBatch()
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, Options(), 5);
        using var images = TinyModels.Images(batch: 3);
        using var withSecond = model.Predict(images.index_select(0, torch.tensor(new long[] { 0, 1 })));
        using var withThird = model.Predict(images.index_select(0, torch.tensor(new long[] { 0, 2 })));
        using var alone = model.Predict(images[0..1]);
        Assert.True(TinyModels.MaxAbsDifference(withSecond[0], withThird[0]) < 1e-5f);
        Assert.True(TinyModels.MaxAbsDifference(withSecond[0], alone[0]) < 1e-5f);
    }

    [Theory]
    [InlineData(SepFusionAxis.Batch, SepTokenSelection.BatchPooled)]
    [InlineData(SepFusionAxis.Batch, SepTokenSelection.PerSample)]
    [InlineData(SepFusionAxis.Tokens, SepTokenSelection.BatchPooled)]
    public void OfficialBatchCoupledModesDependOnTheBatchButArePermutationEquivariant(
        SepFusionAxis axis, SepTokenSelection selection)
    {
        using var backbone = TinyModels.Backbone();
        var options = Options(axis, selection);
        Assert.True(options.IsBatchCoupled);
        using var model = new PromptedVisionTransformer(backbone, options, 5);
        using var images = TinyModels.Images(batch: 3);
        // Compared on the features the head reads: the default head starts small and would shrink the difference.
        using var withSecond = Features(backbone, model, images.index_select(0, torch.tensor(new long[] { 0, 1 })));
        using var withThird = Features(backbone, model, images.index_select(0, torch.tensor(new long[] { 0, 2 })));
        float coupling = TinyModels.MaxAbsDifference(withSecond[0], withThird[0]);
        Assert.True(coupling > 1e-4f, $"batch coupling changed row 0's features by {coupling}");

        using var all = model.Predict(images);
        var permutation = torch.tensor(new long[] { 2, 0, 1 });
        using var permuted = model.Predict(images.index_select(0, permutation));
        Assert.True(TinyModels.MaxAbsDifference(all.index_select(0, permutation), permuted) < 1e-5f);
    }

    [Fact]
    public void AveragePooledBackboneNeverReadsThePromptSlots()
    {
        torch.manual_seed(7);
        using var backbone = new VisionTransformer(TinyModels.Config() with
        {
            GlobalPooling = GlobalPooling.Average,
            UseFcNorm = true,
        });
        using (torch.no_grad())
        {
            foreach (var (_, parameter) in backbone.named_parameters())
            {
                parameter.normal_(0, 0.3);
            }
        }

        using var model = new PromptedVisionTransformer(backbone, Options(), 5);
        using var images = TinyModels.Images();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var context = backbone.Run(images, model.Method, ForwardContext.Inference);
        var patches = context.GetSegment(TokenLayout.PatchSegment).clone();
        var sd = backbone.state_dict();
        var expected = nn.functional.layer_norm(patches.mean(new long[] { 1 }), new long[] { 32 },
            sd["fc_norm.weight"], sd["fc_norm.bias"], 1e-6);
        Assert.True(TinyModels.MaxAbsDifference(expected, model.Method.SelectFeatures(context)) < 1e-5f);
    }

    [Fact]
    public void TrainableParameterCountsForVitBase16MatchSpecFormulas()
    {
        using var backbone = new VisionTransformer(VitVariants.Base());
        const int classes = 100, d = 768, r = 256;
        long head = (d + 1) * classes;
        // methods/sep.md §3.3: TFM(d) = 4d² + (10 + 2r)d + 2 = 2,760,194 with the official never-used third LayerNorm;
        // it is omitted here (it never gets a gradient), so each module has 2d fewer.
        long officialTfm = 4L * d * d + (10L + 2 * r) * d + 2;
        Assert.Equal(2_760_194L, officialTfm);
        long tfm = officialTfm - 2 * d;
        Assert.Equal(11 * tfm + 4 * d + head, Count(new SepOptions()));
        Assert.Equal(30_348_310L + head, Count(new SepOptions()));
        Assert.Equal(2 * tfm + 4 * d + head, Count(new SepOptions { Layers = new[] { 4, 8 } }));

        long Count(PromptMethodOptions options)
        {
            using var model = new PromptedVisionTransformer(backbone, options, classes);
            return model.CountTrainableParameters();
        }
    }

    [Fact]
    public void InvalidOptionsNameTheOptionAndRange()
    {
        using var backbone = TinyModels.Backbone();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new PromptedVisionTransformer(backbone, new SepOptions { Layers = new[] { 0, 2 } }, 5));
        Assert.Contains("SepOptions.Layers is [0, 2]", error.Message);
        Assert.Contains("[1, 2]", error.Message);

        error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new PromptedVisionTransformer(backbone, new SepOptions { PromptLength = 18 }, 5));
        Assert.Contains("SepOptions.PromptLength is 18", error.Message);
        Assert.Contains("[1, 17]", error.Message);

        error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new PromptedVisionTransformer(backbone, new SepOptions { FusionHeads = 3 }, 5));
        Assert.Contains("SepOptions.FusionHeads is 3", error.Message);
    }

    private static SepOptions Options(
        SepFusionAxis axis = SepFusionAxis.Tokens, SepTokenSelection selection = SepTokenSelection.PerSample) => new()
    {
        PromptLength = 3,
        FusionHiddenDim = 16,
        FusionAxis = axis,
        TokenSelection = selection,
    };

    /// <summary>methods/sep.md §3.1 written out with explicit softmax attention; the axis handled by
    /// transposes.</summary>
    private static Tensor ReferenceFusion(
        Dictionary<string, Tensor> sd, string prefix, Tensor r, Tensor pq, SepFusionAxis axis, int heads)
    {
        Tensor P(string name) => sd[prefix + name];
        long width = r.shape[2];
        Tensor LayerNorm(Tensor x, string name) =>
            nn.functional.layer_norm(x, new[] { width }, P(name + ".weight"), P(name + ".bias"), 1e-5);

        var w = P("in_proj_weight");
        var b = P("in_proj_bias");
        var q = torch.matmul(LayerNorm(pq, "ln_a"), w[..(int)width].t()) + b[..(int)width];
        var k = torch.matmul(LayerNorm(r, "ln_a"), w[(int)width..(int)(2 * width)].t())
            + b[(int)width..(int)(2 * width)];
        var v = torch.matmul(LayerNorm(r, "ln_a"), w[(int)(2 * width)..].t()) + b[(int)(2 * width)..];
        if (axis == SepFusionAxis.Batch)
        {
            (q, k, v) = (q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1));
        }

        long outer = q.shape[0], sequence = q.shape[1], headDim = width / heads;
        Tensor Split(Tensor t) => t.reshape(outer, sequence, heads, headDim).permute(0, 2, 1, 3);
        var scores = torch.matmul(Split(q), Split(k).transpose(-2, -1)) / Math.Sqrt(headDim);
        var attended = torch.matmul(scores.softmax(-1), Split(v)).permute(0, 2, 1, 3).reshape(outer, sequence, width);
        if (axis == SepFusionAxis.Batch)
        {
            attended = attended.transpose(0, 1);
        }

        var a = torch.matmul(attended, P("out_proj.weight").t()) + P("out_proj.bias");
        var s1 = P("s1");
        var s2 = P("s2");
        var z = s1 * r + (1 - s1) * a;
        var hidden = torch.matmul(LayerNorm(z, "ln_b"), P("mlp_fc.weight").t());
        var mlp = torch.matmul(hidden * torch.sigmoid(1.702 * hidden), P("mlp_proj.weight").t());
        return s2 * z + (1 - s2) * mlp;
    }

    private static Tensor Features(VisionTransformer backbone, PromptedVisionTransformer model, Tensor images)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        model.SetTrainingMode(false);
        var context = backbone.Run(images, model.Method, ForwardContext.Inference);
        return model.Method.SelectFeatures(context).MoveToOuterDisposeScope();               // [B, D]
    }
}
