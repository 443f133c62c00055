using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Methods.Lspt;
using MLNet.PromptTuning.Methods.Vpt;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Methods;

/// <summary>LSPT's invariants and trainable-parameter formulas as docs/methods/lspt.md states them.</summary>
public sealed class LsptTests
{
    private const string Prompts = "prompt.lspt.prompt_embeddings";
    private const string Gates = "prompt.lspt.gate_logits";
    private const string Temperatures = "prompt.lspt.attention_temperature";

    [Fact]
    public void LstmCellMatchesTorchSharpsLstmCell()
    {
        torch.manual_seed(5);
        using var cell = new LstmCell(6, 4);
        using var reference = nn.LSTMCell(6, 4);
        using (torch.no_grad())
        {
            var ours = cell.state_dict();
            foreach (var (name, tensor) in reference.state_dict())
            {
                tensor.copy_(ours[name]);
            }
        }

        using var scope = torch.NewDisposeScope();
        var input = torch.randn(3, 5, 6);
        Tensor h = torch.zeros(5, 4), c = torch.zeros(5, 4);
        // TorchSharp's LSTMCell rejects a null initial state (it builds an empty one), so pass zeros.
        (Tensor, Tensor)? state = (torch.zeros(5, 4), torch.zeros(5, 4));
        for (int t = 0; t < 3; t++)
        {
            (h, c) = cell.Step(input[t], h, c, p => p);
            state = reference.forward(input[t], state);
            Assert.True(TinyModels.MaxAbsDifference(h, state.Value.Item1) < 1e-6f, $"h at step {t}");
            Assert.True(TinyModels.MaxAbsDifference(c, state.Value.Item2) < 1e-6f, $"c at step {t}");
        }

        // PyTorch's init: every entry within ±1/sqrt(H).
        Assert.All(cell.parameters(), p => Assert.True(p.abs().max().item<float>() <= 0.5f));
    }

    [Fact]
    public void CarriedLstmStateChangesFromLayerToLayerAndIsUsed()
    {
        using var backbone = TinyModels.Backbone(depth: 4);
        using var model = new PromptedVisionTransformer(backbone, new LsptOptions { PromptLength = 3 }, 5);
        using var images = TinyModels.Images(batch: 2);
        var hidden = new List<Tensor>();
        var cells = new List<Tensor>();
        var recorder = new HookRecorder(model.Method, backbone.Description)
        {
            AfterBlockFinished = (_, ctx) =>
            {
                hidden.Add(HookRecorder.Keep(ctx.GetState(LsptMethod.HiddenStateKey)!));
                cells.Add(HookRecorder.Keep(ctx.GetState(LsptMethod.CellStateKey)!));
            },
        };
        using var logits = HookRecorder.LogitsWith(model, recorder, images);

        // G = L - 1 = 3 LSTM steps; the state after the last block is the one after block 2.
        Assert.Equal(new long[] { 2 * 3, 32 }, hidden[0].shape);
        Assert.True(hidden[0].abs().max().item<float>() > 1e-3f);
        for (int layer = 1; layer < 3; layer++)
        {
            Assert.True(TinyModels.MaxAbsDifference(hidden[layer], hidden[layer - 1]) > 1e-3f, $"h {layer}");
            Assert.True(TinyModels.MaxAbsDifference(cells[layer], cells[layer - 1]) > 1e-3f, $"c {layer}");
        }

        Assert.True(TinyModels.Same(hidden[3], hidden[2]));

        // Zeroing the carried state before block 2's step changes the prompts it produces, hence the logits.
        var reset = new HookRecorder(model.Method, backbone.Description)
        {
            BeforeBlockFinished = (layer, ctx) =>
            {
                if (layer == 2)
                {
                    ctx.SetState(LsptMethod.HiddenStateKey, torch.zeros_like(ctx.GetState(LsptMethod.HiddenStateKey)!));
                    ctx.SetState(LsptMethod.CellStateKey, torch.zeros_like(ctx.GetState(LsptMethod.CellStateKey)!));
                }
            },
        };
        using (torch.no_grad())
        {
            model.state_dict()[Gates].fill_(0);     // gate 0.5, so the LSTM output visibly reaches the logits
        }

        using var open = HookRecorder.LogitsWith(model, model.Method, images);
        using var withoutMemory = HookRecorder.LogitsWith(model, reset, images);
        Assert.True(TinyModels.MaxAbsDifference(open, withoutMemory) > 1e-4f);
    }

    [Fact]
    public void AtInitEachUpdateIsTheSigmoidMinusFiveMixAndPromptsStayNearlyStatic()
    {
        using var backbone = TinyModels.Backbone(depth: 4);
        using var model = new PromptedVisionTransformer(backbone, new LsptOptions { PromptLength = 3 }, 5);
        using var images = TinyModels.Images(batch: 2);
        var promptsIn = new List<Tensor>();
        var promptsNext = new List<Tensor>();
        var hidden = new List<Tensor>();
        var recorder = new HookRecorder(model.Method, backbone.Description)
        {
            BeforeBlockFinished = (_, ctx) =>
                promptsIn.Add(HookRecorder.Keep(ctx.GetState(LsptMethod.InputPromptsKey)!)),
            AfterBlockFinished = (_, ctx) =>
            {
                promptsNext.Add(HookRecorder.Keep(ctx.GetSegment(LsptMethod.Segment)));
                hidden.Add(HookRecorder.Keep(ctx.GetState(LsptMethod.HiddenStateKey)!));
            },
        };
        using var logits = HookRecorder.LogitsWith(model, recorder, images);

        double gate = 1 / (1 + Math.Exp(5));
        var prompts = model.state_dict()[Prompts];
        for (int layer = 0; layer < 3; layer++)
        {
            using var expected = gate * hidden[layer].reshape(2, 3, 32) + (1 - gate) * promptsIn[layer];
            Assert.True(TinyModels.MaxAbsDifference(expected, promptsNext[layer]) < 1e-6f, $"layer {layer}");
            // Nearly static: the prompts entering every block stay within σ(−5)·(a few LSTM outputs) of E.
            Assert.True(TinyModels.MaxAbsDifference(promptsNext[layer], prompts.expand(2, -1, -1)) < 0.03f,
                $"layer {layer}");
        }
    }

    [Fact]
    public void TemperaturesStartAtOneAndThenScoreExactlyAsWithoutThem()
    {
        using var backbone = TinyModels.Backbone();
        using var learned = new PromptedVisionTransformer(backbone, new LsptOptions { PromptLength = 4 }, 5);
        using var fixedAtOne = new PromptedVisionTransformer(
            backbone, new LsptOptions { PromptLength = 4, LearnAttentionTemperature = false }, 5);
        var source = learned.state_dict();
        using (torch.no_grad())
        {
            source[Gates].fill_(0);             // gates open, so the prompts' path through every block shows
            foreach (var (key, tensor) in fixedAtOne.state_dict())
            {
                tensor.copy_(source[key]);
            }
        }

        Assert.True(TinyModels.Same(source[Temperatures], torch.ones(3)));
        Assert.DoesNotContain(Temperatures, fixedAtOne.state_dict().Keys);
        Assert.Equal(3, learned.CountTrainableParameters() - fixedAtOne.CountTrainableParameters());
        using var images = TinyModels.Images();
        using var expected = fixedAtOne.Predict(images);
        using var actual = learned.Predict(images);
        Assert.True(TinyModels.Same(expected, actual));
    }

    [Fact]
    public void LearnedTemperaturesGetAGradientInEveryBlockAndTrain()
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, new LsptOptions { PromptLength = 4 }, 4);
        var temperature = model.named_parameters().Single(p => p.name == Temperatures).parameter;
        Assert.Contains(model.GetParameterGroups(), g => g.ApplyWeightDecay && g.Parameters.Contains(temperature));
        using var optimizer = torch.optim.SGD(model.GetParameterGroups().SelectMany(g => g.Parameters), 0.1);
        model.SetTrainingMode(true);
        using (torch.NewDisposeScope())
        {
            var output = model.Forward(TinyModels.Images(), new ForwardContext(true, 0));
            nn.functional.cross_entropy(output.Logits, torch.tensor(new long[] { 0, 1, 2, 3 })).backward();
            for (int layer = 0; layer < 3; layer++)
            {
                Assert.True(temperature.grad![layer].abs().item<float>() > 0, $"block {layer}'s temperature");
            }

            optimizer.step();
        }

        Assert.True(TinyModels.MaxAbsDifference(temperature, torch.ones(3)) > 0);
    }

    [Fact]
    public void TemperaturesAreClampedWhenScoringAndClampedInPlaceBeforeEveryTrainingPass()
    {
        using var backbone = TinyModels.Backbone(depth: 4);
        using var model = new PromptedVisionTransformer(backbone, new LsptOptions { PromptLength = 3 }, 4);
        using var bounded = new PromptedVisionTransformer(backbone, new LsptOptions { PromptLength = 3 }, 4);
        using var outOfRange = torch.tensor(new[] { -3f, 0.001f, 50f, 2.5f });
        using var clamped = torch.tensor(new[] { 0.01f, 0.01f, 10f, 2.5f });
        using (torch.no_grad())
        {
            foreach (var (key, tensor) in bounded.state_dict())
            {
                tensor.copy_(model.state_dict()[key]);
            }

            model.state_dict()[Temperatures].copy_(outOfRange);
            bounded.state_dict()[Temperatures].copy_(clamped);
        }

        // Scoring uses the clamped values and leaves the stored ones alone.
        using var images = TinyModels.Images();
        using var expected = bounded.Predict(images);
        using var actual = model.Predict(images);
        Assert.True(TinyModels.Same(expected, actual));
        Assert.True(TinyModels.Same(outOfRange, model.state_dict()[Temperatures]));

        // A training pass first moves the stored values to the bounds (GaPT's reinit_temp), so steps restart there.
        model.SetTrainingMode(true);
        using (torch.NewDisposeScope())
        {
            model.Forward(images, new ForwardContext(true, 0));
        }

        Assert.True(TinyModels.Same(clamped, model.state_dict()[Temperatures]));
    }

    [Fact]
    public void AllGatesClosedEqualsVptDeepWithEveryPromptSetEqualToE()
    {
        using var backbone = TinyModels.Backbone();
        using var lspt = new PromptedVisionTransformer(backbone, new LsptOptions { PromptLength = 4 }, 5);
        using var deep = new PromptedVisionTransformer(backbone,
            new VptOptions { Depth = VptDepth.Deep, PromptLength = 4 }, 5);
        using (torch.no_grad())
        {
            var source = lspt.state_dict();
            source[Gates].fill_(-1e4);
            var target = deep.state_dict();
            target["prompt.vpt.prompt_embeddings"].copy_(source[Prompts]);
            target["prompt.vpt.deep_prompt_embeddings"].copy_(source[Prompts].expand(2, -1, -1));
            CopyHead(source, target);
        }

        using var images = TinyModels.Images();
        using var expected = deep.Predict(images);
        using var actual = lspt.Predict(images);
        Assert.True(TinyModels.MaxAbsDifference(expected, actual) < 1e-5f);
    }

    [Fact]
    public void GaptWithAllGatesOpenEqualsVptShallow()
    {
        using var backbone = TinyModels.Backbone();
        using var gapt = new PromptedVisionTransformer(backbone, GaptOptions(), 5);
        using var shallow = new PromptedVisionTransformer(backbone,
            new VptOptions { Depth = VptDepth.Shallow, PromptLength = 4 }, 5);
        using (torch.no_grad())
        {
            var source = gapt.state_dict();
            source[Gates].fill_(1e4);
            var target = shallow.state_dict();
            target["prompt.vpt.prompt_embeddings"].copy_(source[Prompts]);
            CopyHead(source, target);
        }

        using var images = TinyModels.Images();
        using var expected = shallow.Predict(images);
        using var actual = gapt.Predict(images);
        Assert.True(TinyModels.MaxAbsDifference(expected, actual) < 1e-5f);
    }

    [Theory]
    [InlineData("gapt")]
    [InlineData("r1")]
    [InlineData("r2-r4-input-mean")]
    [InlineData("r3-narrow")]
    public void MatchesThePseudocodeBuiltOnTorchSharpsLstmCell(string variant)
    {
        var options = variant switch
        {
            "gapt" => GaptOptions(),
            "r1" => new LsptOptions { PromptLength = 4 },
            "r2-r4-input-mean" => new LsptOptions
            {
                PromptLength = 4,
                LongTermCoding = LsptLongTermCoding.Residual,
                SpatialCoding = LsptSpatialCoding.InputPrompts,
                PatchMeanSource = LsptPatchMeanSource.BlockInput,
            },
            _ => new LsptOptions { PromptLength = 4, Gated = false, LstmHiddenSize = 8 },
        };
        using var backbone = TinyModels.Backbone(depth: 4);
        using var model = new PromptedVisionTransformer(backbone, options, 5);
        var sd = model.state_dict();
        if (options.Gated)
        {
            using (torch.no_grad())
            {
                // Gates far from 0 so every term of the update shows in the logits.
                sd[Gates].copy_(torch.tensor(new[] { 0.4f, -1.2f, 2.0f }));
            }
        }

        using (torch.no_grad())
        {
            // Temperatures away from 1, each its own, so a block reading another block's shows in the logits.
            sd[Temperatures].copy_(torch.tensor(new[] { 0.5f, 1.7f, 0.8f, 2.5f }));
        }

        using var oracle = new LsptOracle(backbone.Description, options, sd);
        using var images = TinyModels.Images(batch: 3);
        using var expected = HookRecorder.LogitsWith(model, oracle, images);
        using var actual = model.Predict(images);
        Assert.True(TinyModels.MaxAbsDifference(expected, actual) < 1e-5f);
    }

    [Fact]
    public void PermutingPromptsPermutesTheCarriedStateAndLeavesLogitsUnchanged()
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, new LsptOptions { PromptLength = 4 }, 5);
        using var images = TinyModels.Images(batch: 2);
        using (torch.no_grad())
        {
            model.state_dict()[Gates].fill_(0);
        }

        var (logits, state) = RunKeepingFinalHidden(model, backbone, images);
        var permutation = torch.tensor(new long[] { 2, 0, 3, 1 });
        using (torch.no_grad())
        {
            var prompts = model.state_dict()[Prompts];
            prompts.copy_(prompts.index_select(1, permutation).clone());
        }

        var (permutedLogits, permutedState) = RunKeepingFinalHidden(model, backbone, images);
        Assert.True(TinyModels.MaxAbsDifference(logits, permutedLogits) < 1e-5f);
        using var expectedState = state.reshape(2, 4, 32).index_select(1, permutation);
        Assert.True(TinyModels.MaxAbsDifference(expectedState, permutedState.reshape(2, 4, 32)) < 1e-5f);
    }

    [Fact]
    public void IdenticalPromptsStayIdenticalThroughEveryBlock()
    {
        using var backbone = TinyModels.Backbone();
        using var model = new PromptedVisionTransformer(backbone, new LsptOptions { PromptLength = 4 }, 5);
        using (torch.no_grad())
        {
            var sd = model.state_dict();
            sd[Prompts].copy_(sd[Prompts][.., 0..1].expand(1, 4, 32).clone());
            sd[Gates].fill_(0);
        }

        var segments = new List<Tensor>();
        var recorder = new HookRecorder(model.Method, backbone.Description)
        {
            AfterBlockFinished = (_, ctx) => segments.Add(HookRecorder.Keep(ctx.GetSegment(LsptMethod.Segment))),
        };
        using var images = TinyModels.Images(batch: 2);
        using var logits = HookRecorder.LogitsWith(model, recorder, images);
        foreach (var segment in segments)
        {
            Assert.True(TinyModels.MaxAbsDifference(segment, segment[.., 0..1].expand_as(segment)) < 1e-5f);
            Assert.True(TinyModels.MaxAbsDifference(segment[0], segment[1]) > 1e-3f);    // images still differ
        }
    }

    [Fact]
    public void AveragePooledBackboneReadsTheNormalisedMeanOfPromptsAndPatches()
    {
        // MAE as GaPT uses it: the pretrained norm applied to the mean of every non-class token, prompts included.
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

        using var model = new PromptedVisionTransformer(backbone, new LsptOptions { PromptLength = 4 }, 5);
        using var images = TinyModels.Images();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var context = backbone.Run(images, model.Method, ForwardContext.Inference);
        Assert.Equal(1, context.Layout.OffsetOf(LsptMethod.Segment));
        var tokens = context.Tokens;                                                       // [B, 1+M+N, D]
        var sd = backbone.state_dict();
        var expected = nn.functional.layer_norm(tokens[.., 1..].mean(new long[] { 1 }), new long[] { 32 },
            sd["fc_norm.weight"], sd["fc_norm.bias"], 1e-6);
        var promptsExcluded = nn.functional.layer_norm(tokens[.., 5..].mean(new long[] { 1 }), new long[] { 32 },
            sd["fc_norm.weight"], sd["fc_norm.bias"], 1e-6);
        var features = model.Method.SelectFeatures(context);
        Assert.True(TinyModels.MaxAbsDifference(expected, features) < 1e-5f);
        Assert.True(TinyModels.MaxAbsDifference(promptsExcluded, features) > 1e-3f);
    }

    [Fact]
    public void TrainableParameterCountsForVitBase16MatchTheDocumentedFormulas()
    {
        using var backbone = new VisionTransformer(VitVariants.Base());
        const int classes = 100;
        long head = (768 + 1) * classes;
        // M·D prompts + G gates + L temperatures + the LSTM (+ projection when H ≠ D) + head.
        Assert.Equal(4_801_559L + head, Count(new LsptOptions()));
        Assert.Equal(4_801_547L + head, Count(new LsptOptions { LearnAttentionTemperature = false }));
        Assert.Equal(76_823L + head, Count(GaptOptions(100)));
        long narrowLstm = 4L * 192 * (768 + 192 + 2) + 192 * 768 + 768;
        Assert.Equal(76_800L + 11 + 12 + narrowLstm + head, Count(new LsptOptions { LstmHiddenSize = 192 }));
        Assert.Equal(76_800L + 12 + 4_724_736 + head, Count(new LsptOptions { Gated = false }));
        Assert.Equal(76_800L + 12 + 12 + 4_724_736 + head, Count(new LsptOptions { GateCount = 12 }));

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
            new PromptedVisionTransformer(backbone, new LsptOptions { GateCount = 5 }, 5));
        Assert.Contains("LsptOptions.GateCount is 5", error.Message);
        Assert.Contains("[0, 3]", error.Message);

        error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new PromptedVisionTransformer(backbone, new LsptOptions { Dropout = 1 }, 5));
        Assert.Contains("LsptOptions.Dropout is 1", error.Message);
    }

    private static LsptOptions GaptOptions(int promptLength = 4) => new()
    {
        PromptLength = promptLength,
        SpatialCoding = LsptSpatialCoding.Off,
        LongTermCoding = LsptLongTermCoding.Off,
    };

    private static void CopyHead(Dictionary<string, Tensor> source, Dictionary<string, Tensor> target)
    {
        target["head.weight"].copy_(source["head.weight"]);
        target["head.bias"].copy_(source["head.bias"]);
    }

    private static (Tensor Logits, Tensor Hidden) RunKeepingFinalHidden(
        PromptedVisionTransformer model, VisionTransformer backbone, Tensor images)
    {
        Tensor? hidden = null;
        var recorder = new HookRecorder(model.Method, backbone.Description)
        {
            AfterBlockFinished = (_, ctx) => hidden = HookRecorder.Keep(ctx.GetState(LsptMethod.HiddenStateKey)!),
        };
        var logits = HookRecorder.LogitsWith(model, recorder, images);
        return (logits, hidden!);
    }

    /// <summary>
    /// The pseudocode of docs/methods/lspt.md written out with raw slices (prompts at 1..M) and TorchSharp's own
    /// LSTMCell, using the weights of a trained-looking LSPT model; independent of LsptMethod's code paths. The
    /// attention temperature goes through the generic seam, tested on its own in ExtensionPointTests.
    /// </summary>
    private sealed class LsptOracle : PromptMethod
    {
        private readonly LsptOptions _o;
        private readonly Tensor _prompts;
        private readonly Tensor? _gates;
        private readonly Tensor? _temperatures;
        private readonly TorchSharp.Modules.LSTMCell? _lstm;
        private readonly Tensor? _projWeight;
        private readonly Tensor? _projBias;
        private readonly int _g;
        private readonly int _m;

        public LsptOracle(BackboneDescription backbone, LsptOptions options, Dictionary<string, Tensor> sd)
            : base(new OracleOptions(), backbone)
        {
            _o = options;
            _g = options.EffectiveGateCount(backbone);
            _m = options.PromptLength;
            _prompts = sd[Prompts];
            _gates = options.Gated ? sd[Gates] : null;
            _temperatures = options.LearnAttentionTemperature ? sd[Temperatures] : null;
            if (options.LongTermCoding != LsptLongTermCoding.Off)
            {
                int hidden = options.EffectiveLstmHiddenSize(backbone);
                _lstm = nn.LSTMCell(backbone.EmbedDim, hidden);
                using (torch.no_grad())
                {
                    foreach (var (name, tensor) in _lstm.state_dict())
                    {
                        tensor.copy_(sd[$"prompt.lspt.lstm.{name}"]);
                    }
                }

                if (hidden != backbone.EmbedDim)
                {
                    _projWeight = sd["prompt.lspt.lstm_proj.weight"];
                    _projBias = sd["prompt.lspt.lstm_proj.bias"];
                }
            }
        }

        public override void OnEmbeddings(PromptContext context)
        {
            var e = _prompts.expand(context.BatchSize, -1, -1);
            context.InsertSegment("oracle", e);
            context.SetState("p_in", e);
            context.SetState("h", torch.zeros(context.BatchSize * _m, _lstm?.weight_hh!.shape[1] ?? 1));
            context.SetState("c", torch.zeros(context.BatchSize * _m, _lstm?.weight_hh!.shape[1] ?? 1));
        }

        public override void OnBlockStarting(int layer, PromptContext context)
        {
            context.SetState("s_in", context.Tokens[.., (1 + _m)..].mean(new long[] { 1 }, keepdim: true));
            if (_temperatures is not null)
            {
                context.Attention.DivideLogitsBy(_temperatures[layer]);
            }
        }

        public override void OnBlockFinished(int layer, PromptContext context)
        {
            if (layer >= _g)
            {
                return;
            }

            var z = context.Tokens;
            long b = z.shape[0], d = z.shape[2];
            var pIn = context.GetState("p_in")!;
            var pOut = z[.., 1..(1 + _m)];
            var s = _o.PatchMeanSource == LsptPatchMeanSource.BlockOutput
                ? z[.., (1 + _m)..].mean(new long[] { 1 }, keepdim: true)
                : context.GetState("s_in")!;
            var sCoded = _o.SpatialCoding == LsptSpatialCoding.OutputPrompts ? pOut + s : pOut;
            var u = sCoded;
            if (_lstm is not null)
            {
                var (h, c) = _lstm.forward(sCoded.reshape(b * _m, d), (context.GetState("h")!, context.GetState("c")!));
                context.SetState("h", h);
                context.SetState("c", c);
                var output = (_projWeight is null ? h : nn.functional.linear(h, _projWeight, _projBias)).reshape(b, _m,
                    d);
                u = _o.LongTermCoding == LsptLongTermCoding.Residual ? sCoded + output : output;
            }

            var next = _gates is null ? u : _gates[layer].sigmoid() * u + (1 - _gates[layer].sigmoid()) * pIn;
            if (_o.SpatialCoding == LsptSpatialCoding.InputPrompts)
            {
                next = next + s;
            }

            context.SetTokens(torch.cat(new[] { z[.., 0..1], next, z[.., (1 + _m)..] }, 1));
            context.SetState("p_in", next);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _lstm?.Dispose();
            }

            base.Dispose(disposing);
        }

        private sealed class OracleOptions : PromptMethodOptions
        {
            public override string MethodId => "oracle";
        }
    }
}
