using Microsoft.ML;
using Microsoft.ML.Data.IO;
using Microsoft.ML.Runtime;
using MLNet.PromptTuning.Runtime;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// Writes one component into an ML.NET model: a thin, typed face over the internal members of
/// <see cref="ModelSaveContext"/>, so code outside <c>Interop/</c> can implement <c>ICanSaveModel.Save</c>
/// without touching internals.
/// </summary>
internal sealed class ModelWriter
{
    private readonly ModelSaveContext _context;
    private readonly IHostEnvironment _environment;

    private ModelWriter(ModelSaveContext context, IHostEnvironment environment)
    {
        _context = context;
        _environment = environment;
    }

    /// <summary>Starts a component: checks the context is at a model and writes the header of <paramref
    /// name="format"/>.</summary>
    public static ModelWriter Begin(ModelSaveContext context, ModelFormat format, IHostEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(format);
        ArgumentNullException.ThrowIfNull(environment);
        context.CheckAtModel();
        context.SetVersionInfo(format.ToVersionInfo());
        return new ModelWriter(context, environment);
    }

    /// <summary>The main model stream, for fixed-size values.</summary>
    public BinaryWriter Writer => _context.Writer;

    /// <summary>Writes a non-empty string (pooled in the model's string table).</summary>
    public void WriteString(string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        _context.SaveNonEmptyString(value);
    }

    /// <summary>Writes a string that may be null or empty.</summary>
    public void WriteStringOrNull(string? value) => _context.SaveStringOrNull(value);

    /// <summary>
    /// Writes a named binary stream beside the main one (its own zip entry): the place for tensors and other bulk
    /// data.
    /// </summary>
    public void WriteBinaryStream(string name, Action<BinaryWriter> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(write);
        _context.SaveBinaryStream(name, write);
    }

    /// <summary>
    /// Writes the class count and, when present, the key values in their own stream with ML.NET's binary codec
    /// (type and value), as Microsoft.ML.TorchSharp does, so every primitive key value type survives reload. With
    /// <paramref name="withDigest"/>, a SHA-256 of that stream goes in the main stream first, so a reader can refuse
    /// damaged values before the codec decodes them (it allocates whatever sizes they declare).
    /// </summary>
    public void WriteClassLabels(ClassLabels classes, bool withDigest,
        string streamName = ModelReader.ClassLabelsStream)
    {
        ArgumentNullException.ThrowIfNull(classes);
        Writer.Write(classes.Count);
        Writer.Write(classes.ValueType is not null);
        if (classes.ValueType is null)
        {
            return;
        }

        var saver = new BinarySaver(_environment, new BinarySaver.Arguments());
        using var values = new MemoryStream();
        if (!classes.TryWriteValues(saver, values))
        {
            throw new NotSupportedException(
                $"Label key values of type {classes.ValueType} cannot be saved by ML.NET's binary codec.");
        }

        byte[] bytes = values.ToArray();
        if (withDigest)
        {
            WriteString(Sha256Digest.Of(bytes));
        }

        WriteBinaryStream(streamName, w => w.Write(bytes));
    }
}
