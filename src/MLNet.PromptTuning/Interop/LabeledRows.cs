using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Data;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// The labelled rows of an <see cref="IDataView"/>: for each, its position in cursor order and its 0-based class
/// index. Only the label column is read, so finding the rows costs no image decoding; images are read later in
/// bounded batches (<see cref="DataViewImageSource"/>). Rows whose label is missing (key 0) are skipped, as ML.NET's
/// trainers skip them.
/// </summary>
internal sealed class LabeledRows
{
    private LabeledRows(IDataView data, ImageColumn image, long[] positions, int[] labels, ClassLabels classes,
        long skipped)
    {
        Data = data;
        Image = image;
        Positions = positions;
        Labels = labels;
        Classes = classes;
        SkippedUnlabeled = skipped;
    }

    /// <summary>The data the rows belong to.</summary>
    public IDataView Data { get; }

    /// <summary>The checked image column of <see cref="Data"/>.</summary>
    public ImageColumn Image { get; }

    /// <summary>Row position (0-based, in cursor order) of each labelled row, ascending.</summary>
    public long[] Positions { get; }

    /// <summary>0-based class index of each labelled row.</summary>
    public int[] Labels { get; }

    /// <summary>The classes of the label column.</summary>
    public ClassLabels Classes { get; }

    /// <summary>Rows skipped because their label was missing.</summary>
    public long SkippedUnlabeled { get; }

    /// <summary>Finds the labelled rows; throws with the column named when the data cannot be used.</summary>
    /// <param name="data">The training data.</param>
    /// <param name="imageColumnName">The image column (see <see cref="ImageColumn"/> for accepted types).</param>
    /// <param name="labelColumnName">A key-typed label column (use <c>MapValueToKey</c>).</param>
    /// <param name="spec">Channels and the optional pixel-vector shape.</param>
    /// <param name="checkAlive">Called between rows; throws to cancel (pass the host's <c>CheckAlive</c>).</param>
    public static LabeledRows Scan(IDataView data, string imageColumnName, string labelColumnName,
        ImageInputSpec spec, Action? checkAlive = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        DataViewSchema.Column label = SchemaChecks.CheckLabelColumn(data.Schema, labelColumnName);
        ImageColumn image = ImageColumn.Resolve(data.Schema, imageColumnName, spec);
        ClassLabels classes = ClassLabels.FromLabelColumn(label);

        var positions = new List<long>();
        var labels = new List<int>();
        long unlabeled = 0, position = 0;
        using (DataViewRowCursor cursor = LazyRowCursor.Open(data, new[] { label }))
        {
            Func<ulong> readLabel = KeyReader(cursor, label);
            for (; cursor.MoveNext(); position++)
            {
                if ((position & 1023) == 0)
                {
                    checkAlive?.Invoke();
                }

                ulong key = readLabel();
                if (key == 0)
                {
                    unlabeled++;
                    continue;
                }

                positions.Add(position);
                labels.Add((int)(key - 1));
            }
        }

        if (positions.Count == 0)
        {
            throw new ArgumentException(unlabeled == 0
                    ? $"The training data is empty: no rows were read from columns '{imageColumnName}' and " +
                        $"'{labelColumnName}'."
                    : $"The training data has no labelled rows: all {unlabeled} rows have a missing value in label " +
                      $"column '{labelColumnName}' (values MapValueToKey did not know map to missing).",
                nameof(data));
        }

        return new LabeledRows(data, image, positions.ToArray(), labels.ToArray(), classes, unlabeled);
    }

    /// <summary>The rows at <paramref name="indices"/> (indices into <see cref="Positions"/>, ascending).</summary>
    public LabeledRows Subset(int[] indices) => new(Data, Image, indices.Select(i => Positions[i]).ToArray(),
        indices.Select(i => Labels[i]).ToArray(), Classes, 0);

    /// <summary>Decodes the first labelled row's image, for its size.</summary>
    /// <returns>(height, width) of that image as stored in the column.</returns>
    public (int Height, int Width) ReadFirstImageSize()
    {
        using DataViewRowCursor cursor = LazyRowCursor.Open(Data, new[] { Image.Column });
        ImageRowReader reader = Image.CreateReader(cursor);
        for (long position = 0; cursor.MoveNext(); position++)
        {
            if (position == Positions[0])
            {
                using var scope = TorchSharp.torch.NewDisposeScope();
                var image = reader.Read(); // [C, H, W]
                return ((int)image.shape[1], (int)image.shape[2]);
            }
        }

        throw new InvalidOperationException("The data returned fewer rows than when its labels were read.");
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
