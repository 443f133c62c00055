using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.PromptTuning.Interop;

/// <summary>The lazy output of <see cref="ImageScoringCore.Transform"/>.</summary>
internal sealed partial class ImageScoringDataView : IDataView
{
    private readonly ImageScoringCore _core;
    private readonly IDataView _input;
    private readonly ImageScoringBinding _binding;

    public ImageScoringDataView(ImageScoringCore core, IDataView input)
    {
        _core = core;
        _input = input;
        _binding = core.Bind(input.Schema);
    }

    public DataViewSchema Schema => _binding.OutputSchema;

    // Scoring reads the input with a second cursor, which must see the same rows in the same order.
    public bool CanShuffle => false;

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        ArgumentNullException.ThrowIfNull(columnsNeeded);
        return new ImageScoringCursor(_core, _binding, _input, columnsNeeded);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n,
        Random? rand = null) => new[] { GetRowCursor(columnsNeeded, rand) };
}
