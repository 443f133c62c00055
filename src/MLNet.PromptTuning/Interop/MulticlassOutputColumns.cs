using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// The output columns of a multiclass trainer, exactly as ML.NET's own trainers emit them, so
/// <c>MulticlassClassification.Evaluate</c>, <c>MapKeyToValue</c> and <c>PredictionEngine</c> treat the model as
/// native:
/// <list type="bullet">
/// <item><c>Score</c>: <c>Vector&lt;Single, C&gt;</c> with ScoreColumnKind = "MulticlassClassification",
/// ScoreColumnSetId, ScoreValueKind = "Score", TrainingLabelValues and SlotNames (class names);</item>
/// <item><c>PredictedLabel</c>: <c>Key&lt;UInt32, C&gt;</c> with ScoreColumnKind, ScoreValueKind = "PredictedLabel",
/// KeyValues (the training label's) and ScoreColumnSetId.</item>
/// </list>
/// Label annotations are omitted when the training label had no key values, as native trainers do.
/// </summary>
internal static class MulticlassOutputColumns
{
    /// <summary>
    /// The input schema plus the two output columns; same-named input columns stay, hidden, as ML.NET's transforms
    /// leave them.
    /// </summary>
    public static DataViewSchema BuildOutputSchema(DataViewSchema input, string scoreColumnName,
        string predictedLabelColumnName, ClassLabels classes)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(classes);

        // A fresh id per scoring transform, one above the highest already in the data (as native scorers do).
        uint setId = checked(input.GetMaxAnnotationKind(out _, AnnotationUtils.Kinds.ScoreColumnSetId) + 1);

        var score = new DataViewSchema.Annotations.Builder();
        AddText(score, AnnotationUtils.Kinds.ScoreColumnKind,
            AnnotationUtils.Const.ScoreColumnKind.MulticlassClassification);
        score.Add(AnnotationUtils.Kinds.ScoreColumnSetId, AnnotationUtils.ScoreColumnSetIdType,
            (ValueGetter<uint>)((ref uint dst) => dst = setId));
        AddText(score, AnnotationUtils.Kinds.ScoreValueKind, AnnotationUtils.Const.ScoreValueKind.Score);
        classes.AddTrainingLabelValues(score);
        classes.AddSlotNames(score);

        var predicted = new DataViewSchema.Annotations.Builder();
        AddText(predicted, AnnotationUtils.Kinds.ScoreColumnKind,
            AnnotationUtils.Const.ScoreColumnKind.MulticlassClassification);
        AddText(predicted, AnnotationUtils.Kinds.ScoreValueKind, AnnotationUtils.Const.ScoreValueKind.PredictedLabel);
        classes.AddKeyValues(predicted);
        predicted.Add(AnnotationUtils.Kinds.ScoreColumnSetId, AnnotationUtils.ScoreColumnSetIdType,
            (ValueGetter<uint>)((ref uint dst) => dst = setId));

        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        builder.AddColumn(scoreColumnName, new VectorDataViewType(NumberDataViewType.Single, classes.Count),
            score.ToAnnotations());
        builder.AddColumn(predictedLabelColumnName, new KeyDataViewType(typeof(uint), classes.Count),
            predicted.ToAnnotations());
        return builder.ToSchema();
    }

    /// <summary>
    /// The estimator side (<c>IEstimator.GetOutputSchema</c>): the input shape plus the score and predicted-label
    /// column shapes a native multiclass trainer declares for <paramref name="label"/>.
    /// </summary>
    public static SchemaShape GetOutputSchemaShape(SchemaShape input, SchemaShape.Column label, string scoreColumnName,
        string predictedLabelColumnName)
    {
        ArgumentNullException.ThrowIfNull(input);
        var columns = input.ToDictionary(c => c.Name);
        columns[scoreColumnName] = ScoreColumnShape(scoreColumnName, label);
        columns[predictedLabelColumnName] = PredictedLabelColumnShape(predictedLabelColumnName, label);
        return new SchemaShape(columns.Values);
    }

    /// <summary>The score column's shape, with the annotations ML.NET derives from the label.</summary>
    public static SchemaShape.Column ScoreColumnShape(string scoreColumnName, SchemaShape.Column label) =>
        new(scoreColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false,
            new SchemaShape(AnnotationUtils.AnnotationsForMulticlassScoreColumn(label)));

    /// <summary>The predicted label's shape: a key carrying the label's KeyValues plus the trainer-output
    /// annotations.</summary>
    public static SchemaShape.Column PredictedLabelColumnShape(string predictedLabelColumnName,
        SchemaShape.Column label)
    {
        var annotations = label.Annotations
            .Where(a => a.Name == AnnotationUtils.Kinds.KeyValues)
            .Concat(AnnotationUtils.GetTrainerOutputAnnotation());
        return new SchemaShape.Column(predictedLabelColumnName, SchemaShape.Column.VectorKind.Scalar,
            NumberDataViewType.UInt32, true, new SchemaShape(annotations));
    }

    private static void AddText(DataViewSchema.Annotations.Builder builder, string kind, string value)
    {
        ReadOnlyMemory<char> text = value.AsMemory();
        builder.Add(kind, TextDataViewType.Instance,
            (ValueGetter<ReadOnlyMemory<char>>)((ref ReadOnlyMemory<char> dst) => dst = text));
    }
}
