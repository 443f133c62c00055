using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.PromptTuning.Interop;

/// <summary>Schema lookups with ML.NET-style errors that name the role, the column, and what was expected.</summary>
internal static class SchemaChecks
{
    /// <summary>Finds a visible column or throws, listing the columns that exist.</summary>
    public static DataViewSchema.Column FindColumn(DataViewSchema schema, string columnName, string role)
    {
        if (schema.GetColumnOrNull(columnName) is { } column)
        {
            return column;
        }

        throw new ArgumentOutOfRangeException(nameof(schema), columnName,
            $"The {role} column '{columnName}' was not found in the input schema. " +
            $"Columns present: {DescribeColumns(schema.Where(c => !c.IsHidden).Select(c => c.Name))}.");
    }

    /// <summary>The exception for a column of the wrong type.</summary>
    public static ArgumentOutOfRangeException Mismatch(string role, DataViewSchema.Column column, string expected) =>
        new(nameof(column), column.Type,
            $"The {role} column '{column.Name}' has type {column.Type}, but expected {expected}.");

    /// <summary>
    /// Finds the training label and checks it is a key column, as ML.NET's multiclass trainers require.
    /// </summary>
    public static DataViewSchema.Column CheckLabelColumn(DataViewSchema schema, string labelColumnName)
    {
        DataViewSchema.Column label = FindColumn(schema, labelColumnName, "label");
        if (label.Type is not KeyDataViewType)
        {
            throw new ArgumentOutOfRangeException(nameof(schema), label.Type,
                LabelNotKeyMessage(labelColumnName, label.Type.ToString() ?? "unknown"));
        }

        return label;
    }

    /// <summary>Checks the label in a <see cref="SchemaShape"/> (estimator side) the same way.</summary>
    public static SchemaShape.Column CheckLabelColumn(SchemaShape schema, string labelColumnName)
    {
        if (!schema.TryFindColumn(labelColumnName, out SchemaShape.Column label))
        {
            throw new ArgumentOutOfRangeException(nameof(schema), labelColumnName,
                $"The label column '{labelColumnName}' was not found in the input schema. " +
                $"Columns present: {DescribeColumns(schema.Select(c => c.Name))}.");
        }

        if (!label.IsKey || label.Kind != SchemaShape.Column.VectorKind.Scalar)
        {
            throw new ArgumentOutOfRangeException(nameof(schema), label.GetTypeString(),
                LabelNotKeyMessage(labelColumnName, label.GetTypeString()));
        }

        return label;
    }

    /// <summary>Checks an image column in a <see cref="SchemaShape"/>: one of the accepted kinds.</summary>
    public static SchemaShape.Column CheckImageColumn(SchemaShape schema, string imageColumnName)
    {
        if (!schema.TryFindColumn(imageColumnName, out SchemaShape.Column image))
        {
            throw new ArgumentOutOfRangeException(nameof(schema), imageColumnName,
                $"The image column '{imageColumnName}' was not found in the input schema. " +
                $"Columns present: {DescribeColumns(schema.Select(c => c.Name))}.");
        }

        bool accepted = image.Kind switch
        {
            SchemaShape.Column.VectorKind.Scalar => image.ItemType is Microsoft.ML.Transforms.Image.ImageDataViewType,
            SchemaShape.Column.VectorKind.VariableVector => image.ItemType == NumberDataViewType.Byte,
            SchemaShape.Column.VectorKind.Vector =>
                image.ItemType == NumberDataViewType.Byte || image.ItemType == NumberDataViewType.Single,
            _ => false,
        };
        if (!accepted || image.IsKey)
        {
            throw new ArgumentOutOfRangeException(nameof(schema), image.GetTypeString(),
                $"The image column '{imageColumnName}' has type {image.GetTypeString()}, but expected " +
                $"{ImageColumn.ExpectedTypes}.");
        }

        return image;
    }

    /// <summary>The estimator-side shape of a concrete schema (ML.NET's factory for it is internal).</summary>
    public static SchemaShape ToShape(DataViewSchema schema) => SchemaShape.Create(schema);

    private static string LabelNotKeyMessage(string labelColumnName, string actualType) =>
        $"The label column '{labelColumnName}' has type {actualType}, but expected a key type (Key<UInt32>). " +
        $"Convert it first with mlContext.Transforms.Conversion.MapValueToKey(\"{labelColumnName}\").";

    private static string DescribeColumns(IEnumerable<string> names)
    {
        string[] list = names.Distinct().ToArray();
        return list.Length == 0 ? "(none)" : string.Join(", ", list.Select(n => $"'{n}'"));
    }
}
