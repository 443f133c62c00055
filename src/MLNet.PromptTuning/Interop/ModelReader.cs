using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Data.IO;
using Microsoft.ML.Runtime;
using MLNet.PromptTuning.Runtime;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// Reads one component back from an ML.NET model: the counterpart of <see cref="ModelWriter"/> over the internal
/// <see cref="ModelLoadContext"/>.
/// </summary>
internal sealed class ModelReader
{
    /// <summary>Default stream name of the class labels' key values.</summary>
    public const string ClassLabelsStream = "LabelKeyValues.bin";

    /// <summary>
    /// The most classes a stored model may declare: far beyond any real classifier, small enough that a damaged count
    /// cannot make scoring allocate gigabytes (scores take batch × classes floats).
    /// </summary>
    public const int MaxClasses = 1 << 20;

    private readonly ModelLoadContext _context;
    private readonly IHostEnvironment _environment;

    private ModelReader(ModelLoadContext context, IHostEnvironment environment)
    {
        _context = context;
        _environment = environment;
    }

    /// <summary>
    /// Starts reading a component: checks the header matches <paramref name="format"/> and its versions are ones this
    /// code can read (ML.NET throws a clear format error otherwise).
    /// </summary>
    public static ModelReader Begin(ModelLoadContext context, ModelFormat format, IHostEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(format);
        ArgumentNullException.ThrowIfNull(environment);
        context.CheckAtModel(format.ToVersionInfo());
        return new ModelReader(context, environment);
    }

    /// <summary>The version the component was written with, for reading older layouts.</summary>
    public uint VersionWritten => _context.Header.ModelVerWritten;

    /// <summary>The main model stream.</summary>
    public BinaryReader Reader => _context.Reader;

    /// <summary>Reads a string written by <see cref="ModelWriter.WriteString"/>.</summary>
    public string ReadString() => _context.LoadNonEmptyString();

    /// <summary>Reads a string written by <see cref="ModelWriter.WriteStringOrNull"/>.</summary>
    public string? ReadStringOrNull() => _context.LoadStringOrNull();

    /// <summary>Reads a named binary stream; a missing stream is a corrupt model.</summary>
    public void ReadBinaryStream(string name, Action<BinaryReader> read)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(read);
        if (!_context.TryLoadBinaryStream(name, read))
        {
            throw new InvalidDataException($"The model has no '{name}' stream in '{_context.Directory}'.");
        }
    }

    /// <summary>Reads what <see cref="ModelWriter.WriteClassLabels"/> wrote.</summary>
    /// <param name="withDigest">True when the writer stored the values' digest (checked before decoding).</param>
    /// <param name="streamName">The values' stream.</param>
    public ClassLabels ReadClassLabels(bool withDigest, string streamName = ClassLabelsStream)
    {
        int count = Reader.ReadInt32();
        bool hasValues = Reader.ReadBoolean();
        if (count < 1 || count > MaxClasses)
        {
            throw new InvalidDataException(
                $"The model stores {count} classes; expected 1 to {MaxClasses} (the stream is damaged).");
        }

        if (!hasValues)
        {
            return ClassLabels.WithoutValues(count);
        }

        string? expectedDigest = withDigest ? ReadString() : null;
        ClassLabels? classes = null;
        var saver = new BinarySaver(_environment, new BinarySaver.Arguments());
        ReadBinaryStream(streamName, r =>
        {
            // The digest, then the type, are checked before the value is read: the value's reader allocates whatever
            // sizes the stream declares, and a damaged stream can declare gigabytes (models without a digest still
            // get the type check).
            using var bytes = new MemoryStream();
            r.BaseStream.CopyTo(bytes);
            var stored = bytes.GetBuffer().AsSpan(0, (int)bytes.Length);
            if (expectedDigest is not null && Sha256Digest.Of(stored) != expectedDigest)
            {
                throw new InvalidDataException(
                    $"The model's '{streamName}' stream is damaged: it differs from the SHA-256 saved with it.");
            }

            bytes.Position = 0;
            if (!new CodecFactory(_environment).TryReadCodec(bytes, out var codec) ||
                codec.Type is not VectorDataViewType declared || declared.Size != count)
            {
                throw new InvalidDataException(
                    $"The model's '{streamName}' stream does not hold {count} label key values.");
            }

            bytes.Position = 0;
            if (!saver.TryLoadTypeAndValue(bytes, out DataViewType type, out object value) ||
                type is not VectorDataViewType vectorType || vectorType.Size != count)
            {
                throw new InvalidDataException(
                    $"The model's '{streamName}' stream does not hold {count} label key values.");
            }

            classes = ClassLabels.FromBoxedValues(vectorType, value);
        });
        return classes!;
    }
}
