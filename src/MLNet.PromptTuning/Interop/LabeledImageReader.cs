using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Data;
using TorchSharp;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// Reads a training set out of an <see cref="IDataView"/>: one [C, H, W] tensor per labelled row (<c>uint8</c> for
/// images, encoded bytes and byte pixels; <c>float32</c> for float pixels) and its 0-based class index. Rows whose
/// label is missing (key 0) are skipped, as ML.NET's trainers skip them.
/// </summary>
internal static class LabeledImageReader
{
    /// <summary>Reads every labelled row; throws with the column and row named when the data cannot be used.</summary>
    /// <param name="data">The training data.</param>
    /// <param name="imageColumnName">The image column (see <see cref="ImageColumn"/> for accepted types).</param>
    /// <param name="labelColumnName">A key-typed label column (use <c>MapValueToKey</c>).</param>
    /// <param name="spec">Channels and the optional pixel-vector shape.</param>
    /// <param name="checkAlive">Called between rows; throws to cancel (pass the host's <c>CheckAlive</c>).</param>
    public static LabeledImages Read(IDataView data, string imageColumnName, string labelColumnName,
        ImageInputSpec spec, Action? checkAlive = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        DataViewSchema.Column label = SchemaChecks.CheckLabelColumn(data.Schema, labelColumnName);
        ImageColumn image = ImageColumn.Resolve(data.Schema, imageColumnName, spec);
        ClassLabels classes = ClassLabels.FromLabelColumn(label);

        var images = new List<torch.Tensor>();
        var labels = new List<int>();
        long unlabeled = 0;
        long colorReduced = 0;
        try
        {
            using DataViewRowCursor cursor = data.GetRowCursor(new[] { label, image.Column });
            ImageRowReader reader = image.CreateReader(cursor);
            Func<ulong> readLabel = KeyReader(cursor, label);
            while (cursor.MoveNext())
            {
                checkAlive?.Invoke();
                ulong key = readLabel();
                if (key == 0)
                {
                    unlabeled++;
                    continue;
                }

                // Outlives any dispose scope of the caller: the cache owns it.
                images.Add(reader.Read().DetachFromDisposeScope());
                labels.Add((int)(key - 1));
            }

            colorReduced = reader.ColorImagesReduced;
        }
        catch
        {
            foreach (torch.Tensor t in images)
            {
                t.Dispose();
            }

            throw;
        }

        if (images.Count == 0)
        {
            throw new ArgumentException(unlabeled == 0
                    ? $"The training data is empty: no rows were read from columns '{imageColumnName}' and " +
                        $"'{labelColumnName}'."
                    : $"The training data has no labelled rows: all {unlabeled} rows have a missing value in label " +
                      $"column '{labelColumnName}' (values MapValueToKey did not know map to missing).",
                nameof(data));
        }

        return new LabeledImages(images, labels.ToArray(), classes, unlabeled)
        {
            ColorImagesReduced = colorReduced,
        };
    }

    private static Func<ulong> KeyReader(DataViewRow row, DataViewSchema.Column label)
    {
        switch (Type.GetTypeCode(label.Type.RawType))
        {
            case TypeCode.Byte:
                {
                    ValueGetter<byte> getter = row.GetGetter<byte>(label);
                    byte value = 0;
                    return () => { getter(ref value); return value; };
                }

            case TypeCode.UInt16:
                {
                    ValueGetter<ushort> getter = row.GetGetter<ushort>(label);
                    ushort value = 0;
                    return () => { getter(ref value); return value; };
                }

            case TypeCode.UInt32:
                {
                    ValueGetter<uint> getter = row.GetGetter<uint>(label);
                    uint value = 0;
                    return () => { getter(ref value); return value; };
                }

            default:
                {
                    ValueGetter<ulong> getter = row.GetGetter<ulong>(label);
                    ulong value = 0;
                    return () => { getter(ref value); return value; };
                }
        }
    }
}

/// <summary>Decoded training images with their class indices; owns the tensors.</summary>
internal sealed class LabeledImages : IDisposable
{
    public LabeledImages(IReadOnlyList<torch.Tensor> images, int[] labels, ClassLabels classes, long skippedUnlabeled)
    {
        Images = images;
        Labels = labels;
        Classes = classes;
        SkippedUnlabeled = skippedUnlabeled;
    }

    /// <summary>One [C, H, W] tensor per row.</summary>
    public IReadOnlyList<torch.Tensor> Images { get; }

    /// <summary>0-based class index per row.</summary>
    public int[] Labels { get; }

    /// <summary>The classes of the label column.</summary>
    public ClassLabels Classes { get; }

    /// <summary>Rows skipped because their label was missing.</summary>
    public long SkippedUnlabeled { get; }

    /// <summary>Images that were in colour and were reduced to luma for a 1-channel backbone.</summary>
    public long ColorImagesReduced { get; init; }

    public void Dispose()
    {
        foreach (torch.Tensor t in Images)
        {
            t.Dispose();
        }
    }
}
