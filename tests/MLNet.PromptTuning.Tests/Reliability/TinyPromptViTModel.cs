using Microsoft.ML;
using MLNet.PromptTuning.Persistence;
using MLNet.PromptTuning.Tests.Integration;
using TorchSharp;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// A whole ML.NET chain around a PromptViT model trained for one epoch on the tiny fixture (key mapping, image bytes,
/// PromptViT, key-to-value): the model zip the fuzz and kill tests damage and interrupt.
/// </summary>
internal sealed class TinyPromptViTModel
{
    private static readonly DateTimeOffset FixedTime = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private TinyPromptViTModel(MLContext context, ITransformer chain, DataViewSchema inputSchema)
    {
        Context = context;
        Chain = chain;
        InputSchema = inputSchema;
    }

    public MLContext Context { get; }

    public ITransformer Chain { get; }

    public DataViewSchema InputSchema { get; }

    /// <summary>The PromptViT transformer inside <see cref="Chain"/>.</summary>
    public PromptViTTransformer PromptViT => Find(Chain);

    /// <summary>Trains the chain (seeded, at a fixed thread count, so every process gets the same weights).</summary>
    public static TinyPromptViTModel Train()
    {
        using var fixture = PromptViTFixture.Create();
        var ml = new MLContext(seed: 1);
        var data = fixture.LoadRows(ml);
        var chain = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadRawImageBytes("Image", fixture.Images.Folder, "Path"))
            .Append(ml.MulticlassClassification.Trainers.PromptViT(fixture.Options(epochs: 1)))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"))
            .Fit(data);
        return new TinyPromptViTModel(ml, chain, data.Schema);
    }

    /// <summary>The chain's model zip, with fixed entry times so that every process produces the same bytes.</summary>
    public byte[] SaveToBytes()
    {
        using var saved = new MemoryStream();
        Context.Model.Save(Chain, InputSchema, saved);
        return ZipRewrite.Rewrite(saved.ToArray(), (_, bytes) => bytes, FixedTime);
    }

    /// <summary>Sets every prompt and head value (not the frozen backbone) to <paramref name="value"/>.</summary>
    public void FillTrainable(float value)
    {
        using var noGrad = torch.no_grad();
        foreach (var tensor in ModelTensors.Trainable(PromptViT.Model, includeBackbone: false).Values)
        {
            tensor.fill_(value);
        }
    }

    /// <summary>The PromptViT transformer of a loaded chain.</summary>
    public static PromptViTTransformer Find(ITransformer model) =>
        (model as IEnumerable<ITransformer>)?.OfType<PromptViTTransformer>().SingleOrDefault() ??
        throw new InvalidDataException("The model holds no PromptViT transformer.");
}
