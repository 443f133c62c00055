using MLNet.PromptTuning.Backbones;
using MLNet.PromptTuning.Checkpoints;
using MLNet.PromptTuning.Interop;
using MLNet.PromptTuning.Modeling;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Runtime;
using TorchSharp;

namespace MLNet.PromptTuning.Persistence;

/// <summary>
/// The model part of a PromptViT entry in an ML.NET model zip (after the scoring core's columns and classes): method
/// id, method options as JSON, the assembly of a method defined outside this library, backbone architecture, backbone
/// fingerprint, pixel scale and precision in the main stream; the backbone weights (<c>Backbone.safetensors</c>) and
/// the method's and head's weights (<c>Trainable.safetensors</c>) in their own streams.
/// </summary>
/// <remarks>
/// Version 0x00010003 added SHA-256 digests of the method's and head's tensors and of the backbone as stored, so every
/// stored weight is covered, and <see cref="Read"/> checks both unless <see cref="SavedModelVerification"/> is off.
/// Version 0x00010002 added the method's assembly. Versions 0x00010001 and 0x00010002 are still read; their backbone
/// is verified against the fingerprint (which those versions took of the backbone as stored), their prompt and head
/// cannot be.
/// </remarks>
internal static class SavedModelFormat
{
    public const string LoaderSignature = "PromptViTTransformer";

    private const uint WithMethodAssembly = 0x00010002;
    private const uint WithDigests = 0x00010003;
    private const string BackboneStream = "Backbone.safetensors";
    private const string TrainableStream = "Trainable.safetensors";

    public static readonly ModelFormat Format = new(
        ModelSignature: "PRMPTVIT",
        LoaderSignature: LoaderSignature,
        VersionWritten: WithDigests,
        VersionReadable: WithDigests,
        VersionWeCanReadBack: 0x00010001);

    /// <summary>Writes <paramref name="model"/> (the backbone always: a saved model needs nothing else).</summary>
    public static void Write(ModelWriter writer, PromptedVisionTransformer model, string backboneFingerprint,
        float pixelValueScale)
    {
        var options = model.Method.Options;
        writer.WriteString(model.Method.Id);
        writer.WriteString(ModelJson.SerializeMethodOptions(options));
        writer.WriteStringOrNull(PromptMethodRegistry.ExternalAssemblyOf(options));
        writer.WriteString(ModelJson.SerializeConfig(model.Backbone.Config));
        writer.WriteString(backboneFingerprint);
        writer.Writer.Write(pixelValueScale);
        writer.Writer.Write(model.ComputePrecision == torch.ScalarType.BFloat16);
        var trainable = ModelTensors.Trainable(model, includeBackbone: false);
        var backbone = model.Backbone.state_dict();
        writer.WriteString(Sha256Digest.Of(trainable));
        writer.WriteString(Sha256Digest.Of(backbone));
        writer.WriteBinaryStream(BackboneStream, w => SafeTensorsWriter.Write(w.BaseStream, backbone));
        writer.WriteBinaryStream(TrainableStream, w => SafeTensorsWriter.Write(w.BaseStream, trainable));
    }

    /// <summary>
    /// Reads what <see cref="Write"/> wrote into a model that owns its backbone, and checks the weights read back
    /// against the stored digests.
    /// </summary>
    /// <exception cref="InvalidDataException">The stored weights are damaged, or differ from their digests.</exception>
    public static (PromptedVisionTransformer Model, string BackboneFingerprint, float PixelValueScale) Read(
        ModelReader reader, int numberOfClasses)
    {
        string methodId = reader.ReadString();
        string optionsJson = reader.ReadString();
        string? methodAssembly = reader.VersionWritten >= WithMethodAssembly ? reader.ReadStringOrNull() : null;
        var methodOptions = ModelJson.DeserializeMethodOptions(methodId, optionsJson, methodAssembly);
        var config = ModelJson.DeserializeConfig(reader.ReadString());
        string fingerprint = reader.ReadString();
        float pixelValueScale = reader.Reader.ReadSingle();
        bool bfloat16 = reader.Reader.ReadBoolean();
        bool hasDigests = reader.VersionWritten >= WithDigests;
        string? trainableDigest = hasDigests ? reader.ReadString() : null;
        // The fingerprint names the backbone the model was trained from (float32 even when it computes in bfloat16);
        // the digest covers the backbone as stored. Older formats stored only the fingerprint, taken as stored.
        string backboneDigest = hasDigests ? reader.ReadString() : fingerprint;

        var backbone = new VisionTransformer(config);
        PromptedVisionTransformer? model = null;
        try
        {
            reader.ReadBinaryStream(BackboneStream, r => ModelTensors.Load(backbone, r, "backbone"));
            model = new PromptedVisionTransformer(backbone, methodOptions, numberOfClasses, ownsBackbone: true);
            reader.ReadBinaryStream(TrainableStream, r => ModelTensors.Load(model, r, "prompt and head"));
            if (bfloat16)
            {
                model.SetComputePrecision(torch.ScalarType.BFloat16);
            }

            // After the precision change: the backbone was stored as it computed (bf16 or not).
            if (SavedModelVerification.IsEnabled)
            {
                SavedModelVerification.Check("backbone weights", backboneDigest, BackboneFingerprint.Compute(backbone));
                if (trainableDigest is not null)
                {
                    SavedModelVerification.Check("prompt and head weights", trainableDigest,
                        Sha256Digest.Of(ModelTensors.Trainable(model, includeBackbone: false)));
                }
            }

            return (model, fingerprint, pixelValueScale);
        }
        catch
        {
            // The model owns the backbone once it exists.
            (model as IDisposable ?? backbone).Dispose();
            throw;
        }
    }
}
