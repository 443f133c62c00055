using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Tests.Extensibility;
using MLNet.PromptTuning.Tests.Integration;
using MLNet.PromptTuning.Tests.Interop;
using MLNet.PromptTuning.Tests.TestSupport;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;

// The one registration line. Everything else this method needs is in this file: nothing in the library, the tests'
// shared code or the docs names it, and it still trains by id, saves, loads in a fresh process and round-trips as an
// adapter (docs/adding-a-method.md).
[assembly: PromptMethod(typeof(ShiftOptions), typeof(ShiftMethod))]

namespace MLNet.PromptTuning.Tests.Extensibility;

/// <summary>Options of a deliberately trivial method: one learned vector added to every token before block 0.</summary>
public sealed class ShiftOptions : PromptMethodOptions
{
    /// <summary>The method's id.</summary>
    public const string Id = "shift";

    /// <inheritdoc/>
    public override string MethodId => Id;

    /// <summary>Multiplier of the learned shift. Default 1; range (0, 10].</summary>
    public double Strength { get; set; } = 1;

    /// <inheritdoc/>
    public override void Validate(BackboneDescription backbone) =>
        Require(Strength > 0 && Strength <= 10, nameof(Strength), Strength, "(0, 10]");
}

/// <summary>Adds <c>Strength × shift</c> (one learned D-vector) to every token after the embeddings.</summary>
public sealed class ShiftMethod : PromptMethod
{
    private readonly Parameter _shift;
    private readonly double _strength;

    /// <summary>Creates the method for <paramref name="backbone"/>.</summary>
    public ShiftMethod(ShiftOptions options, BackboneDescription backbone)
        : base(options, backbone)
    {
        _strength = options.Strength;
        _shift = NewParameter(torch.zeros(1, 1, backbone.EmbedDim));
        register_parameter("shift", _shift);
    }

    /// <summary>The learned vector [1, 1, D].</summary>
    public torch.Tensor Shift => _shift;

    /// <inheritdoc/>
    public override void OnEmbeddings(PromptContext context) =>
        context.SetTokens(context.Tokens + context.ToCompute(_shift) * _strength);
}

/// <summary>Options that claim the sixth method's id for another method type: registering them must fail.</summary>
public sealed class ImpostorShiftOptions : PromptMethodOptions
{
    /// <inheritdoc/>
    public override string MethodId => ShiftOptions.Id;
}

/// <summary>A method with no hooks for <see cref="ImpostorShiftOptions"/>.</summary>
public sealed class ImpostorShiftMethod : PromptMethod
{
    /// <summary>Creates the method.</summary>
    public ImpostorShiftMethod(ImpostorShiftOptions options, BackboneDescription backbone)
        : base(options, backbone)
    {
    }
}

public sealed class SixthMethodTests
{
    [Fact]
    public void ProgrammaticRegistrationIsIdempotentThreadSafeAndRefusesAnIdTakenByAnotherMethod()
    {
        var registry = PromptMethodRegistry.Default;
        Parallel.For(0, 16, _ => registry.Register<ShiftOptions, ShiftMethod>());
        Assert.Single(registry.Ids, id => id == ShiftOptions.Id);

        var error = Assert.Throws<InvalidOperationException>(
            () => registry.Register<ImpostorShiftOptions, ImpostorShiftMethod>());
        Assert.Contains($"'{ShiftOptions.Id}' is already registered to {typeof(ShiftMethod).FullName}", error.Message);
        Assert.Equal(typeof(ShiftOptions), registry.GetOptionsType(ShiftOptions.Id));
    }

    [Fact]
    public void TheRegistryKnowsTheMethodFromItsAssemblyDeclaration()
    {
        var registry = PromptMethodRegistry.Default;
        Assert.Contains(ShiftOptions.Id, registry.Ids);
        Assert.Equal(typeof(ShiftOptions), registry.GetOptionsType(ShiftOptions.Id));
        Assert.Equal(1.0, Assert.IsType<ShiftOptions>(registry.CreateOptions(ShiftOptions.Id)).Strength);

        // By id alone, the trainer's options resolve the method's defaults through the registry.
        var byId = new PromptViTTrainer.Options { BackbonePath = "b", Method = ShiftOptions.Id };
        Assert.IsType<ShiftOptions>(byId.GetMethodOptions());
        var invalid = new PromptViTTrainer.Options
        {
            BackbonePath = "b", Method = ShiftOptions.Id, MethodOptions = new ShiftOptions { Strength = 0 },
        };
        using var backbone = TinyModels.Backbone();
        var error = Assert.Throws<ArgumentOutOfRangeException>(
            () => new MLNet.PromptTuning.Modeling.PromptedVisionTransformer(backbone, invalid.GetMethodOptions(), 3));
        Assert.StartsWith("ShiftOptions.Strength is 0; expected (0, 10].", error.Message);
    }

    [Fact]
    public void ItTrainsByIdSavesLoadsInAFreshProcessAndRoundTripsAsAnAdapter()
    {
        // Parent and child score at the same thread count: bits differ across counts.
        using var threads = new TorchThreadScope();
        using var fixture = PromptViTFixture.Create();
        var ml = new MLContext(seed: 1);
        IDataView rows = fixture.LoadRows(ml);
        var options = fixture.Options(method: ShiftOptions.Id);
        options.MethodOptions = new ShiftOptions { Strength = 0.5 };
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadRawImageBytes("Image", fixture.Images.Folder, "Path"))
            .Append(ml.MulticlassClassification.Trainers.PromptViT(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"));
        var model = pipeline.Fit(rows);
        var trained = model.OfType<ITransformer>().OfType<PromptViTTransformer>().Single();
        Assert.Equal(ShiftOptions.Id, trained.MethodId);
        Assert.Equal(0.5, Assert.IsType<ShiftOptions>(trained.Model.Method.Options).Strength);
        Assert.True(((ShiftMethod)trained.Model.Method).Shift.abs().max().item<float>() > 0, "the shift did not train");
        IDataView scored = model.Transform(rows);
        string[] expected = ScoreReading.ReadVectors(scored, "Score").Select(ScoreReading.Bits).ToArray();

        // mlContext.Model.Save, then Model.Load in a fresh process that registers nothing.
        string modelPath = Path.Combine(fixture.Images.Folder, "shift.zip");
        ml.Model.Save(model, rows.Schema, modelPath);
        string output = Path.Combine(fixture.Images.Folder, "shift-fresh.txt");
        PersistenceTests.RunFreshProcess(SavedModelScorer.Command, modelPath, fixture.Images.WriteTsv(),
            fixture.Images.Folder, output, threads.Threads.ToString(CultureInfo.InvariantCulture));
        string[] lines = File.ReadAllLines(output);
        Assert.Equal(expected, lines.Where(l => l.StartsWith("score=", StringComparison.Ordinal)).Select(l => l[6..]));

        // SaveAdapter / LoadAdapter: the manifest names the method's assembly, and the scores come back identical.
        string adapter = Path.Combine(fixture.Images.Folder, "shift-adapter");
        trained.SaveAdapter(adapter);
        using (var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(adapter, "adapter_manifest.json"))))
        {
            Assert.Equal(ShiftOptions.Id, manifest.RootElement.GetProperty("Method").GetString());
            Assert.Equal(typeof(ShiftOptions).Assembly.GetName().Name,
                manifest.RootElement.GetProperty("MethodAssembly").GetString());
            Assert.Equal(0.5, manifest.RootElement.GetProperty("MethodOptions").GetProperty("Strength").GetDouble());
        }

        var images = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadRawImageBytes("Image", fixture.Images.Folder, "Path"))
            .Fit(rows).Transform(rows);
        using var loaded = PromptViTTransformer.LoadAdapter(new MLContext(seed: 5), adapter, fixture.BackbonePath);
        Assert.Equal(ShiftOptions.Id, loaded.MethodId);
        Assert.Equal(expected, ScoreReading.ReadVectors(loaded.Transform(images), "Score").Select(ScoreReading.Bits));
    }
}
