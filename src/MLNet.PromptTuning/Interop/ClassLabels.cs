using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Data.Conversion;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// The classes a multiclass model predicts: their count and, when the training label column had them, its key
/// values (of any primitive type, as <c>MapValueToKey</c> made them). Supplies the annotations a native ML.NET
/// multiclass trainer puts on its outputs: <c>KeyValues</c> on the predicted label, <c>TrainingLabelValues</c> and
/// <c>SlotNames</c> on the score.
/// </summary>
internal abstract class ClassLabels
{
    private protected ClassLabels(int count, IReadOnlyList<string> names)
    {
        Count = count;
        Names = names;
    }

    /// <summary>Number of classes (the key count of the training label).</summary>
    public int Count { get; }

    /// <summary>Class names as text, index i for key value i + 1; "0", "1", … when the label had no key
    /// values.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Type of one key value, or null when the training label had no key values.</summary>
    public abstract PrimitiveDataViewType? ValueType { get; }

    /// <summary>Classes without key values (a key label that carried none, for example from a typed loader).</summary>
    public static ClassLabels WithoutValues(int count)
    {
        if (count < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "A classifier needs at least one class.");
        }

        return new Untyped(count);
    }

    /// <summary>Classes whose key values are <paramref name="values"/> of <paramref name="valueType"/>.</summary>
    public static ClassLabels FromValues<T>(PrimitiveDataViewType valueType, IReadOnlyList<T> values)
    {
        ArgumentNullException.ThrowIfNull(valueType);
        ArgumentNullException.ThrowIfNull(values);
        if (valueType.RawType != typeof(T))
        {
            throw new ArgumentException(
                $"Key value type {valueType} holds {valueType.RawType.Name}, not {typeof(T).Name}.", nameof(valueType));
        }

        if (values.Count < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(values), values.Count,
                "A classifier needs at least one class.");
        }

        return new Typed<T>(valueType, values.ToArray());
    }

    /// <summary>
    /// The classes of a key-typed training label column, with its <c>KeyValues</c> annotation when present.
    /// </summary>
    public static ClassLabels FromLabelColumn(DataViewSchema.Column label)
    {
        if (label.Type is not KeyDataViewType keyType)
        {
            throw new ArgumentOutOfRangeException(nameof(label), label.Type,
                $"Label column '{label.Name}' must be a key type; got {label.Type}.");
        }

        if (keyType.Count > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(label), keyType.Count,
                $"Label column '{label.Name}' has {keyType.Count} key values; at most {int.MaxValue} classes are " +
                $"supported.");
        }

        int count = (int)keyType.Count;
        DataViewSchema.Column? keyValues = label.Annotations.Schema.GetColumnOrNull(AnnotationUtils.Kinds.KeyValues);
        if (keyValues is not { } column ||
            column.Type is not VectorDataViewType { ItemType: PrimitiveDataViewType itemType } vectorType ||
            vectorType.Size != count)
        {
            return WithoutValues(count);
        }

        return (ClassLabels)typeof(ClassLabels)
            .GetMethod(nameof(ReadKeyValues),
                System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(itemType.RawType)
            .Invoke(null, new object[] { label.Annotations, column, itemType })!;
    }

    /// <summary>Classes from a boxed <c>VBuffer&lt;T&gt;</c> of key values, as stored in a saved model.</summary>
    internal static ClassLabels FromBoxedValues(VectorDataViewType type, object values)
    {
        if (type.ItemType is not PrimitiveDataViewType itemType)
        {
            throw new InvalidDataException($"Saved class labels have a non-primitive item type {type.ItemType}.");
        }

        return (ClassLabels)typeof(ClassLabels)
            .GetMethod(nameof(FromBoxedBuffer),
                System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(itemType.RawType)
            .Invoke(null, new[] { itemType, values })!;
    }

    /// <summary>Adds <c>KeyValues</c> (for the predicted-label column) when the classes have values.</summary>
    public abstract void AddKeyValues(DataViewSchema.Annotations.Builder builder);

    /// <summary>Adds <c>TrainingLabelValues</c> (for the score column) when the classes have values.</summary>
    public abstract void AddTrainingLabelValues(DataViewSchema.Annotations.Builder builder);

    /// <summary>Adds <c>SlotNames</c> (class names as text, for the score column) when the classes have
    /// values.</summary>
    public abstract void AddSlotNames(DataViewSchema.Annotations.Builder builder);

    /// <summary>Writes type and values with ML.NET's own codec, so any key value type reloads exactly.</summary>
    internal abstract bool TryWriteValues(Microsoft.ML.Data.IO.BinarySaver saver, Stream stream);

    private static ClassLabels ReadKeyValues<T>(DataViewSchema.Annotations annotations, DataViewSchema.Column column,
        PrimitiveDataViewType itemType)
    {
        VBuffer<T> buffer = default;
        annotations.GetValue(column.Name, ref buffer);
        return new Typed<T>(itemType, buffer.DenseValues().ToArray());
    }

    private static ClassLabels FromBoxedBuffer<T>(PrimitiveDataViewType itemType, object values) =>
        new Typed<T>(itemType, ((VBuffer<T>)values).DenseValues().ToArray());

    private sealed class Untyped : ClassLabels
    {
        public Untyped(int count)
            : base(count, Enumerable.Range(0, count).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray())
        {
        }

        public override PrimitiveDataViewType? ValueType => null;

        public override void AddKeyValues(DataViewSchema.Annotations.Builder builder)
        {
        }

        public override void AddTrainingLabelValues(DataViewSchema.Annotations.Builder builder)
        {
        }

        public override void AddSlotNames(DataViewSchema.Annotations.Builder builder)
        {
        }

        internal override bool TryWriteValues(Microsoft.ML.Data.IO.BinarySaver saver, Stream stream) =>
            throw new InvalidOperationException("Classes without key values have nothing to write.");
    }

    private sealed class Typed<T> : ClassLabels
    {
        private readonly PrimitiveDataViewType _itemType;
        private readonly T[] _values;
        private readonly ReadOnlyMemory<char>[] _slotNames;

        public Typed(PrimitiveDataViewType itemType, T[] values)
            : base(values.Length, ToText(itemType, values))
        {
            _itemType = itemType;
            _values = values;
            _slotNames = Names.Select(n => n.AsMemory()).ToArray();
        }

        public override PrimitiveDataViewType? ValueType => _itemType;

        public override void AddKeyValues(DataViewSchema.Annotations.Builder builder) =>
            builder.AddKeyValues<T>(_values.Length, _itemType, GetValues);

        public override void AddTrainingLabelValues(DataViewSchema.Annotations.Builder builder) =>
            builder.Add(AnnotationUtils.Kinds.TrainingLabelValues, new VectorDataViewType(_itemType, _values.Length),
                (ValueGetter<VBuffer<T>>)GetValues);

        public override void AddSlotNames(DataViewSchema.Annotations.Builder builder) =>
            builder.AddSlotNames(_slotNames.Length, (ref VBuffer<ReadOnlyMemory<char>> dst) =>
                new VBuffer<ReadOnlyMemory<char>>(_slotNames.Length, _slotNames).CopyTo(ref dst));

        internal override bool TryWriteValues(Microsoft.ML.Data.IO.BinarySaver saver, Stream stream)
        {
            var buffer = new VBuffer<T>(_values.Length, _values);
            return saver.TryWriteTypeAndValue(stream, new VectorDataViewType(_itemType, _values.Length), ref buffer,
                out _);
        }

        private void GetValues(ref VBuffer<T> dst) => new VBuffer<T>(_values.Length, _values).CopyTo(ref dst);

        private static string[] ToText(PrimitiveDataViewType itemType, T[] values)
        {
            if (values is ReadOnlyMemory<char>[] text)
            {
                return text.Select(v => v.ToString()).ToArray();
            }

            // ML.NET's own value-to-text conversion, so names read as in the rest of the pipeline.
            if (Conversions.DefaultInstance.TryGetStringConversion(itemType, out ValueMapper<T, StringBuilder> toText))
            {
                var names = new string[values.Length];
                var builder = new StringBuilder();
                for (int i = 0; i < values.Length; i++)
                {
                    toText(in values[i], ref builder);
                    names[i] = builder.ToString();
                }

                return names;
            }

            return values.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture) ?? string.Empty).ToArray();
        }
    }
}
