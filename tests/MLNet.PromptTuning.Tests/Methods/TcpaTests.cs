using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Methods.Tcpa;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Methods;

/// <summary>The invariants of methods/tcpa.md §10 and the trainable-parameter formulas of §3.</summary>
public sealed class TcpaTests
{
    private const string ClassKeys = "prompt.tcpa.Pool.Pool_cls.keys";
    private const string ClassPrompts = "prompt.tcpa.Pool.Pool_cls.prompts";
    private const string ImageKeys = "prompt.tcpa.Pool.Pool_image.keys";
    private const string ImagePrompts = "prompt.tcpa.Pool.Pool_image.prompts";

    /// <summary>Small pools with two-token image entries, so entry grouping is exercised too.</summary>
    private static TcpaOptions Small(Action<TcpaOptions>? change = null)
    {
        var options = new TcpaOptions
        {
            ClassPoolSize = 5, ImagePoolSize = 6, ClassPromptLength = 1, ImagePromptLength = 2,
            ClassTopK = 2, ImageTopK = 3, Dropout = 0,
        };
        change?.Invoke(options);
        return options;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void MaskHasTheSpecsStructureOverTheTokenLayout(int vptTokens)
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, Small(o => o.VptPromptLength = vptTokens), 5);
        using var recorder = Record(model, TinyModels.Images(batch: 2), ForwardContext.Inference);

        var layout = recorder.Layouts[0];
        int count = layout.Count, classCols = 5, imageCols = 12;
        int cls = layout.OffsetOf(TokenLayout.ClassTokenSegment);
        int patches = layout.OffsetOf(TokenLayout.PatchSegment);
        Assert.Equal(1 + vptTokens + 16, count);
        foreach (var mask in recorder.Masks)
        {
            // One mask for all heads; tokens always visible; CLS sees no image prompt, patches no class prompt.
            Assert.Equal(new long[] { 2, 1, count, count + classCols + imageCols }, mask.shape);
            var m = mask.squeeze(1);                                                                 // [B, T, T+P]
            var classBlock = m.narrow(2, count, classCols);
            var imageBlock = m.narrow(2, count + classCols, imageCols);
            Assert.Equal(1f, m.narrow(2, 0, count).min().item<float>());
            Assert.Equal(0f, imageBlock.narrow(1, cls, 1).abs().sum().item<float>());
            Assert.Equal(0f, classBlock.narrow(1, patches, 16).abs().sum().item<float>());

            // Exactly k·ℓ visible prompts per row (k_c·ℓ_c = 2·1, k_i·ℓ_i = 3·2), an entry's ℓ columns together.
            Assert.True(torch.all(classBlock.narrow(1, cls, 1).sum(2) == 2 * 1).item<bool>());
            Assert.True(torch.all(imageBlock.narrow(1, patches, 16).sum(2) == 3 * 2).item<bool>());
            var entries = imageBlock.reshape(2, count, 6, 2);
            Assert.True(TinyModels.Same(entries[.., .., .., 0], entries[.., .., .., 1]));
            if (vptTokens > 0)
            {
                // VPT rows are neither class nor patch tokens: they see no pool prompt.
                int vpt = layout.OffsetOf(TcpaMethod.VptSegment);
                var vptRows = m.narrow(1, vpt, vptTokens).narrow(2, count, classCols + imageCols);
                Assert.Equal(0f, vptRows.abs().sum().item<float>());
            }
        }
    }

    [Theory]
    [InlineData(10)]
    [InlineData(0)]
    public void SelectionAndPullLossMatchAHandComputation(int epoch)
    {
        // Epoch 10 is the first matching epoch; epoch 0 is in the random warm-up. Either way the pull loss is
        // λ·Σ_layers mean(1 − cos) over the entries actually picked, and matching picks the top-k cosines.
        using var backbone = TinyModels.Backbone();
        var options = Small(o => o.PullLossWeight = 0.25);
        using var model = new PromptedVisionTransformer(backbone, options, 5);
        torch.manual_seed(epoch);
        using var recorder = Record(model, TinyModels.Images(batch: 3), new ForwardContext(true, epoch));
        bool matching = epoch >= options.RandomSelectionEpochs;

        var sd = model.state_dict();
        double expected = 0;
        bool anyDifferentFromTopK = false;
        for (int layer = 0; layer < backbone.Config.Depth; layer++)
        {
            var tokens = recorder.Inputs[layer].to(ScalarType.Float64);                              // [B, T, D]
            var mask = recorder.Masks[layer].squeeze(1);                                             // [B, T, T+P]
            int count = (int)tokens.shape[1];
            var pools = new[]
            {
                (Keys: sd[ClassKeys][layer], Rows: tokens.narrow(1, 0, 1),
                    Picks: mask.narrow(1, 0, 1).narrow(2, count, 5), Length: 1, K: 2),
                (Keys: sd[ImageKeys][layer], Rows: tokens.narrow(1, 1, 16),
                    Picks: mask.narrow(1, 1, 16).narrow(2, count + 5, 12), Length: 2, K: 3),
            };
            foreach (var pool in pools)
            {
                var queries = pool.Rows.reshape(-1, 32);                                             // [M, D]
                var keys = pool.Keys.to(ScalarType.Float64);                                         // [K, D]
                var cosine = (queries / queries.norm(1, true)).matmul((keys / keys.norm(1, true)).t()); // [M, K]
                var picked = pool.Picks.reshape(queries.shape[0], -1, pool.Length)[.., .., 0]
                    .to(ScalarType.Float64);                                                         // [M, K]
                Assert.True(torch.all(picked.sum(1) == pool.K).item<bool>());
                expected += ((1 - cosine) * picked).sum().item<double>() / (queries.shape[0] * pool.K);

                var topK = torch.zeros_like(cosine)
                    .scatter_(1, cosine.topk(pool.K, 1).indexes, torch.ones_like(cosine));
                bool equalsTopK = TinyModels.Same(topK, picked);
                Assert.True(!matching || equalsTopK, $"layer {layer}: matching must pick the top-k cosines");
                anyDifferentFromTopK |= !equalsTopK;
            }
        }

        Assert.Equal(!matching, anyDifferentFromTopK);
        var pull = recorder.Context!.AuxiliaryLosses.Single(l => l.Name == TcpaMethod.PullLossName);
        float actual = pull.Value.item<float>();
        Assert.True(Math.Abs(0.25 * expected - actual) < 1e-5, $"{0.25 * expected} vs {actual}");
    }

    [Fact]
    public void RandomPhaseOnlyInTheFirstTrainingEpochsAndEvaluationAlwaysMatches()
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, Small(o => o.RandomSelectionEpochs = 3), 5);
        using var images = TinyModels.Images(batch: 2);
        var evaluation = Masks(ForwardContext.Inference, seed: 0);
        Assert.Equal(evaluation, Masks(new ForwardContext(false, 0), seed: 1));      // not training: matching
        Assert.Equal(evaluation, Masks(new ForwardContext(true, 3), seed: 2));       // epoch ≥ RandomSelectionEpochs
        var warmUp = Masks(new ForwardContext(true, 2), seed: 3);
        Assert.NotEqual(evaluation, warmUp);
        Assert.NotEqual(warmUp, Masks(new ForwardContext(true, 2), seed: 4));        // fresh draws per pass
        Assert.Equal(warmUp, Masks(new ForwardContext(true, 2), seed: 3));           // seeded: reproducible

        string Masks(ForwardContext forward, int seed)
        {
            torch.manual_seed(seed);
            using var recorder = Record(model, images, forward);
            return string.Join(";", recorder.Masks.Select(m => string.Join(",", m.flatten().data<float>().ToArray())));
        }
    }

    [Fact]
    public void AllOnesVisibilityEqualsVptDeepWithThePromptsAsKeysAndValues()
    {
        // T2: without coordination every token sees every pool prompt; VPT-Deep with the same per-layer prompts as
        // real tokens gives the same class token, because prompt outputs never reach the next layer.
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images();
        using var tcpa = new PromptedVisionTransformer(backbone, Small(o => o.Coordination = TcpaCoordination.None), 5);
        using var vpt = new PromptedVisionTransformer(backbone, new VptOptions { PromptLength = 5 + 12 }, 5);
        var t = tcpa.state_dict();
        Assert.DoesNotContain(ClassKeys, t.Keys);
        using (torch.no_grad())
        {
            var v = vpt.state_dict();
            v["head.weight"].copy_(t["head.weight"]);
            v["head.bias"].copy_(t["head.bias"]);
            for (int layer = 0; layer < backbone.Config.Depth; layer++)
            {
                var prompts = torch.cat(new[]
                {
                    t[ClassPrompts][layer].reshape(5, 32), t[ImagePrompts][layer].reshape(12, 32),
                }, 0);
                var target = layer == 0
                    ? v["prompt.vpt.prompt_embeddings"][0]
                    : v["prompt.vpt.deep_prompt_embeddings"][layer - 1];
                target.copy_(prompts);
            }
        }

        using var expected = vpt.Predict(images);
        using var actual = tcpa.Predict(images);
        float difference = TinyModels.MaxAbsDifference(expected, actual);
        Assert.True(difference < 1e-5f, difference.ToString());
    }

    [Fact]
    public void OfficialMaskMultipliesTheSoftmaxWithoutRenormalising()
    {
        // T3: block 0 recomputed by hand from the frozen weights, the recorded input, pool prompts and mask.
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, Small(), 5);
        using var recorder = Record(model, TinyModels.Images(batch: 2), ForwardContext.Inference);
        using var scope = torch.NewDisposeScope();
        var official = HandBlockZero(backbone, recorder, renormalise: false);
        var renormalised = HandBlockZero(backbone, recorder, renormalise: true);
        Assert.True(TinyModels.MaxAbsDifference(official, recorder.Outputs[0]) < 1e-5f);
        Assert.True(TinyModels.MaxAbsDifference(renormalised, recorder.Outputs[0]) > 1e-3f);
    }

    [Fact]
    public void RenormalisedModeHidesUnselectedPromptsCompletelyButTheOfficialModeDoesNot()
    {
        // T4: a token's block output is independent of the pool prompts it cannot see only when hidden prompts leave
        // the softmax (PreSoftmaxNegativeInfinity, no Fourier mixing). Under the official post-softmax mask hidden
        // keys still enter the denominator, and the Fourier base mixes the pools, so perturbing them changes it.
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images(batch: 1);
        const int patch = 4;
        foreach (var (mode, fourier, isolated) in new[]
        {
            (TcpaMaskMode.PreSoftmaxNegativeInfinity, false, true),
            (TcpaMaskMode.PostSoftmaxMultiply, false, false),
            (TcpaMaskMode.PreSoftmaxNegativeInfinity, true, false),
        })
        {
            using var model = new PromptedVisionTransformer(backbone, Small(o =>
            {
                o.MaskMode = mode;
                o.FourierPrompts = fourier;
            }), 5);
            using var before = Record(model, images, ForwardContext.Inference);
            var mask = before.Masks[0].squeeze(1)[0];                                                // [T, T+P]
            var selected = mask[1 + patch].narrow(0, 17 + 5, 12).reshape(6, 2)[.., 0];               // [K_i]
            var unselected = torch.nonzero(selected == 0).flatten().data<long>().ToArray();
            var chosen = torch.nonzero(selected == 1).flatten().data<long>().ToArray();

            // Image entries this patch did not select: its output is untouched only in the isolated setting.
            var afterUnselected = RecordWithChangedImagePrompts(model, images, unselected);
            float patchChange = TinyModels.MaxAbsDifference(
                before.Outputs[0][0, 1 + patch], afterUnselected.Outputs[0][0, 1 + patch]);
            Assert.True(isolated ? patchChange < 1e-6f : patchChange > 1e-6f,
                $"{mode}, fourier {fourier}: {patchChange}");

            // The class token never selects image prompts.
            var afterAll = RecordWithChangedImagePrompts(model, images, new long[] { 0, 1, 2, 3, 4, 5 });
            float classChange = TinyModels.MaxAbsDifference(before.Outputs[0][0, 0], afterAll.Outputs[0][0, 0]);
            Assert.True(isolated ? classChange < 1e-6f : classChange > 1e-6f,
                $"{mode}, fourier {fourier}: CLS {classChange}");

            // A selected entry always matters.
            var afterChosen = RecordWithChangedImagePrompts(model, images, chosen.Take(1).ToArray());
            Assert.True(TinyModels.MaxAbsDifference(
                before.Outputs[0][0, 1 + patch], afterChosen.Outputs[0][0, 1 + patch]) > 1e-4f);
        }
    }

    [Theory]
    [InlineData(TcpaMaskMode.PostSoftmaxMultiply)]
    [InlineData(TcpaMaskMode.PreSoftmaxNegativeInfinity)]
    public void EntriesNobodySelectsGetNoKeyGradientAndPromptGradientOnlyFromTheDenominator(TcpaMaskMode mode)
    {
        // T5: keys learn only through the pull loss over picked entries; an entry no query picked gets an exactly zero
        // key gradient. Its prompts still get one through the softmax denominators in the official mode, and none in
        // the renormalised mode.
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, new TcpaOptions
        {
            ClassPoolSize = 4, ImagePoolSize = 8, ClassTopK = 1, ImageTopK = 1, Dropout = 0, MaskMode = mode,
        }, 5);
        using var images = TinyModels.Images(batch: 1);
        using var recorder = new Recorder(model.Method, backbone.Description);
        using var scope = torch.NewDisposeScope();
        var context = backbone.Run(images, recorder, new ForwardContext(true, 10));
        var logits = nn.functional.linear(recorder.SelectFeatures(context), model.state_dict()["head.weight"]);
        (logits.pow(2).sum() + context.AuxiliaryLosses.Single().Value).backward();

        var sd = model.state_dict();
        int unused = 0;
        for (int layer = 0; layer < backbone.Config.Depth; layer++)
        {
            var mask = recorder.Masks[layer].squeeze(1)[0];                                          // [T, T+P]
            var pools = new[]
            {
                (Keys: ClassKeys, Prompts: ClassPrompts, Used: mask.narrow(1, 17, 4).sum(new long[] { 0 })),
                (Keys: ImageKeys, Prompts: ImagePrompts, Used: mask.narrow(1, 17 + 4, 8).sum(new long[] { 0 })),
            };
            foreach (var pool in pools)
            {
                foreach (long entry in torch.nonzero(pool.Used == 0).flatten().data<long>().ToArray())
                {
                    unused++;
                    Assert.Equal(0f, sd[pool.Keys].grad![layer, entry].abs().max().item<float>());
                    float promptGradient = sd[pool.Prompts].grad![layer, entry].abs().max().item<float>();
                    Assert.True(mode == TcpaMaskMode.PostSoftmaxMultiply ? promptGradient > 0 : promptGradient == 0,
                        $"{mode}: layer {layer} entry {entry} prompt gradient {promptGradient}");
                }

                foreach (long entry in torch.nonzero(pool.Used > 0).flatten().data<long>().ToArray())
                {
                    Assert.True(sd[pool.Keys].grad![layer, entry].abs().max().item<float>() > 0);
                }
            }
        }

        Assert.True(unused >= 3 * 3, $"only {unused} unused entries; the test needs them");
    }

    [Fact]
    public void ParametersCarryTheOfficialNamesShapesAndInitialisation()
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, Small(o => o.VptPromptLength = 2), 5);
        var shapes = model.state_dict().Where(kv => kv.Key.StartsWith("prompt."))
            .ToDictionary(kv => kv.Key, kv => string.Join("x", kv.Value.shape));
        Assert.Equal(new Dictionary<string, string>
        {
            [ClassKeys] = "3x5x32",
            [ClassPrompts] = "3x5x1x32",
            [ImageKeys] = "3x6x32",
            [ImagePrompts] = "3x6x2x32",
            ["prompt.tcpa.vpt_prompts"] = "3x2x32",
        }, shapes);
        foreach (var key in new[] { ClassKeys, ClassPrompts, ImageKeys, ImagePrompts })
        {
            var values = model.state_dict()[key];
            Assert.True(values.abs().max().item<float>() < 1f && values.abs().max().item<float>() > 0.9f, key);
        }
    }

    [Fact]
    public void BFloat16ComputeWithRoleCoordinationStaysCloseToFloat32()
    {
        // Role-level coordination has no per-token top-k, so bf16 rounding cannot flip a choice; the shared contract
        // checks dtypes and gradients for every case, and leaves token-level selection out of the numeric comparison.
        using var backbone = TinyModels.Backbone();
        using var images = TinyModels.Images();
        using var model = new PromptedVisionTransformer(backbone, Small(o =>
        {
            o.VptPromptLength = 2;
            o.Coordination = TcpaCoordination.Role;
        }), 4);
        using var reference = model.Predict(images);
        model.SetComputePrecision(ScalarType.BFloat16);
        using var reduced = model.Predict(images);
        Assert.Equal(ScalarType.Float32, reduced.dtype);
        Assert.True(TinyModels.MaxAbsDifference(reference, reduced) < 0.1f * reference.abs().max().item<float>());
    }

    [Fact]
    public void TrainableParameterCountsForVitBase16MatchSpecFormulas()
    {
        using var backbone = new VisionTransformer(VitVariants.Base());
        const int classes = 200;
        const long head = 153_800;
        Assert.Equal(663_552L + head, Count(new TcpaOptions()));
        Assert.Equal(589_824L + head, Count(new TcpaOptions { ClassPoolSize = 16, ImagePoolSize = 16 }));
        Assert.Equal(331_776L + head, Count(new TcpaOptions { Coordination = TcpaCoordination.Role }));
        Assert.Equal(663_552L + 92_160L + head, Count(new TcpaOptions { VptPromptLength = 10 }));

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
            new PromptedVisionTransformer(backbone, new TcpaOptions { ClassPoolSize = 8, ClassTopK = 9 }, 5));
        Assert.Contains("TcpaOptions.ClassTopK is 9", error.Message);
        Assert.Contains("[1, ClassPoolSize = 8]", error.Message);
        error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new PromptedVisionTransformer(backbone, new TcpaOptions { PullLossWeight = -1 }, 5));
        Assert.Contains("TcpaOptions.PullLossWeight is -1", error.Message);
    }

    private static Recorder Record(PromptedVisionTransformer model, Tensor images, ForwardContext forward)
    {
        var recorder = new Recorder(model.Method, model.Backbone.Description);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var context = model.Backbone.Run(images, recorder, forward);
        recorder.Context = context;
        foreach (var loss in context.AuxiliaryLosses)
        {
            loss.Value.DetachFromDisposeScope();
        }

        return recorder;
    }

    /// <summary>Records block 0 after adding noise to the layer-0 image-pool prompts of the given entries.</summary>
    private static Recorder RecordWithChangedImagePrompts(
        PromptedVisionTransformer model, Tensor images, long[] entries)
    {
        var prompts = model.state_dict()[ImagePrompts];
        using var original = prompts.clone();
        using (torch.no_grad())
        {
            torch.manual_seed(9);
            foreach (long entry in entries)
            {
                prompts[0, entry].add_(torch.randn(2, 32));
            }
        }

        var recorder = Record(model, images, ForwardContext.Inference);
        using (torch.no_grad())
        {
            prompts.copy_(original);
        }

        return recorder;
    }

    /// <summary>Block 0 of the tiny backbone by hand: norm1 on tokens and pool prompts, masked attention, MLP.
    /// </summary>
    private static Tensor HandBlockZero(VisionTransformer backbone, Recorder recorder, bool renormalise)
    {
        const int width = 32, heads = 2, headDim = 16;
        var sd = backbone.state_dict();
        Tensor W(string name) => sd["blocks.0." + name];
        Tensor Norm(Tensor x, string norm) =>
            nn.functional.layer_norm(x, new long[] { width }, W(norm + ".weight"), W(norm + ".bias"), 1e-6);

        var x = recorder.Inputs[0];                                                                  // [B, T, D]
        long batch = x.shape[0], count = x.shape[1];
        var extra = recorder.ExtraTokens[0].expand(batch, -1, -1);                                   // [B, P, D]
        var keysAndValues = torch.cat(new[] { Norm(x, "norm1"), Norm(extra, "norm1") }, 1);          // [B, T+P, D]
        Tensor Project(Tensor input, int block) => nn.functional.linear(input,
            W("attn.qkv.weight").narrow(0, block * width, width), W("attn.qkv.bias").narrow(0, block * width, width))
            .view(batch, -1, heads, headDim).transpose(1, 2);                                          // [B, H, n, hd]
        var q = Project(Norm(x, "norm1"), 0);
        var k = Project(keysAndValues, 1);
        var v = Project(keysAndValues, 2);
        var weights = (q.matmul(k.transpose(-2, -1)) / Math.Sqrt(headDim)).softmax(-1);            // [B, H, T, T+P]
        weights = weights * recorder.Masks[0];
        if (renormalise)
        {
            weights = weights / weights.sum(-1, keepdim: true);
        }

        var attended = weights.matmul(v).transpose(1, 2).reshape(batch, count, width);
        var h = x + nn.functional.linear(attended, W("attn.proj.weight"), W("attn.proj.bias"));
        var hidden = nn.functional.gelu(nn.functional.linear(Norm(h, "norm2"), W("mlp.fc1.weight"), W("mlp.fc1.bias")));
        return h + nn.functional.linear(hidden, W("mlp.fc2.weight"), W("mlp.fc2.bias"));
    }

    /// <summary>
    /// Forwards every hook to TCPA and records, per block, its input, layout, extra tokens, 0/1 mask and output.
    /// </summary>
    private sealed class Recorder : PromptMethod
    {
        private readonly PromptMethod _inner;

        public Recorder(PromptMethod inner, BackboneDescription backbone)
            : base(new RecorderOptions(), backbone)
        {
            _inner = inner;
        }

        public List<Tensor> Inputs { get; } = new();

        public List<TokenLayout> Layouts { get; } = new();

        public List<Tensor> ExtraTokens { get; } = new();

        public List<Tensor> Masks { get; } = new();

        public List<Tensor> Outputs { get; } = new();

        public PromptContext? Context { get; set; }

        public override IReadOnlySet<BlockSite> UsedSites => _inner.UsedSites;

        public override void OnEmbeddings(PromptContext context) => _inner.OnEmbeddings(context);

        public override void OnBlockStarting(int layer, PromptContext context)
        {
            _inner.OnBlockStarting(layer, context);
            var extras = context.Attention;
            Inputs.Add(Keep(context.Tokens));
            Layouts.Add(context.Layout);
            ExtraTokens.Add(Keep(extras.ExtraKeyValueTokens!));
            Masks.Add(Keep(extras.PostSoftmaxMask ?? extras.AdditiveBias!.eq(0).to(ScalarType.Float32)));
        }

        public override void OnBlockFinished(int layer, PromptContext context)
        {
            _inner.OnBlockFinished(layer, context);
            Outputs.Add(Keep(context.Tokens));
        }

        public override Tensor SelectFeatures(PromptContext context) => _inner.SelectFeatures(context);

        private static Tensor Keep(Tensor tensor) => tensor.detach().clone().DetachFromDisposeScope();

        private sealed class RecorderOptions : PromptMethodOptions
        {
            public override string MethodId => "recorder";
        }
    }
}
