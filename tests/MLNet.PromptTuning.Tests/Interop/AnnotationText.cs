using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.PromptTuning.Tests.Interop;

/// <summary>Renders a column's annotations as "Kind: Type = value" lines, in order, for whole-contract
/// comparisons.</summary>
internal static class AnnotationText
{
    public static string[] Describe(DataViewSchema.Column column) =>
        column.Annotations.Schema.Select(a => $"{a.Name}: {a.Type} = {Value(column.Annotations, a)}").ToArray();

    public static string Value(DataViewSchema.Annotations annotations, DataViewSchema.Column annotation)
    {
        DataViewType type = annotation.Type;
        if (type is TextDataViewType)
        {
            ReadOnlyMemory<char> text = default;
            annotations.GetValue(annotation.Name, ref text);
            return text.ToString();
        }

        if (type is KeyDataViewType && type.RawType == typeof(uint))
        {
            uint key = 0;
            annotations.GetValue(annotation.Name, ref key);
            return key.ToString(CultureInfo.InvariantCulture);
        }

        if (type is VectorDataViewType vector)
        {
            return vector.ItemType.RawType switch
            {
                var t when t == typeof(ReadOnlyMemory<char>) =>
                    Join<ReadOnlyMemory<char>>(annotations, annotation, v => v.ToString()),
                var t when t == typeof(int) =>
                    Join<int>(annotations, annotation, v => v.ToString(CultureInfo.InvariantCulture)),
                var t when t == typeof(float) =>
                    Join<float>(annotations, annotation, v => v.ToString("R", CultureInfo.InvariantCulture)),
                var t when t == typeof(bool) => Join<bool>(annotations, annotation, v => v.ToString()),
                _ => "?",
            };
        }

        return "?";
    }

    private static string Join<T>(DataViewSchema.Annotations annotations, DataViewSchema.Column annotation,
        Func<T, string> text)
    {
        VBuffer<T> values = default;
        annotations.GetValue(annotation.Name, ref values);
        return "[" + string.Join(", ", values.DenseValues().Select(text)) + "]";
    }
}
