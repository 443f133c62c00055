using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// Cursor over <see cref="ImageScoringDataView"/>. Input columns pass through from a cursor that moves with this one;
/// when a score column is active, a second input cursor over the image column only reads a batch ahead and the
/// scorer runs once per batch. Two cursors (rather than buffering passed-through values) keep ML.NET's value
/// ownership rules intact for any column type; row ids are compared on every row to prove both see the same rows.
/// </summary>
internal sealed class ImageScoringCursor : DataViewRowCursor
{
    private readonly ImageScoringCore _core;
    private readonly ImageScoringBinding _binding;
    private readonly bool[] _active;
    private readonly DataViewRowCursor _rows;

    private readonly DataViewRowCursor? _lookahead;
    private readonly ImageRowReader? _reader;
    private readonly ValueGetter<DataViewRowId>? _rowId;
    private readonly ValueGetter<DataViewRowId>? _lookaheadId;
    private readonly float[] _probabilities;
    private readonly DataViewRowId[] _batchIds;
    private int _batchCount;
    private int _batchIndex;
    private bool _disposed;

    public ImageScoringCursor(ImageScoringCore core, ImageScoringBinding binding, IDataView input,
        IEnumerable<DataViewSchema.Column> columnsNeeded)
    {
        _core = core;
        _binding = binding;
        _active = new bool[binding.OutputSchema.Count];
        foreach (DataViewSchema.Column column in columnsNeeded)
        {
            _active[CheckColumn(column)] = true;
        }

        _rows = input.GetRowCursor(binding.InputSchema.Where(c => _active[c.Index]));

        int classes = core.Classes.Count;
        int batchSize = core.Settings.BatchSize;
        _probabilities = new float[batchSize * classes];
        _batchIds = new DataViewRowId[batchSize];
        if (_active[binding.ScoreIndex] || _active[binding.PredictedLabelIndex])
        {
            _lookahead = input.GetRowCursor(new[] { binding.Image.Column });
            _reader = binding.Image.CreateReader(_lookahead);
            _lookaheadId = _lookahead.GetIdGetter();
            _rowId = _rows.GetIdGetter();
        }
    }

    public override DataViewSchema Schema => _binding.OutputSchema;

    public override long Position => _rows.Position;

    public override long Batch => _rows.Batch;

    public override ValueGetter<DataViewRowId> GetIdGetter() => _rows.GetIdGetter();

    public override bool IsColumnActive(DataViewSchema.Column column) => _active[CheckColumn(column)];

    public override bool MoveNext()
    {
        if (_disposed || !_rows.MoveNext())
        {
            return false;
        }

        if (_lookahead is null)
        {
            return true;
        }

        if (++_batchIndex >= _batchCount)
        {
            _batchIndex = 0;
            int at = 0;
            _batchCount = _core.ScoreBatch(() => ReadAhead(ref at), _core.Settings.BatchSize, _probabilities);
            if (_batchCount == 0)
            {
                throw NotSameRows();
            }
        }

        DataViewRowId id = default;
        _rowId!(ref id);
        if (!id.Equals(_batchIds[_batchIndex]))
        {
            throw NotSameRows();
        }

        return true;
    }

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        int index = CheckColumn(column);
        if (!_active[index])
        {
            throw new InvalidOperationException($"Column '{column.Name}' is not active in this cursor.");
        }

        if (index < _binding.InputSchema.Count)
        {
            return _rows.GetGetter<TValue>(_binding.InputSchema[index]);
        }

        Delegate getter = index == _binding.ScoreIndex
            ? (ValueGetter<VBuffer<float>>)GetScore
            : (ValueGetter<uint>)GetPredictedLabel;
        return getter as ValueGetter<TValue> ?? throw new InvalidOperationException(
            $"Column '{column.Name}' has type {column.Type}; it cannot be read as {typeof(TValue).Name}.");
    }

    protected override void Dispose(bool disposing)
    {
        if (_disposed)
        {
            return;
        }

        if (disposing)
        {
            _lookahead?.Dispose();
            _rows.Dispose();
        }

        _disposed = true;
        base.Dispose(disposing);
    }

    private torch.Tensor? ReadAhead(ref int at)
    {
        if (!_lookahead!.MoveNext())
        {
            return null;
        }

        _lookaheadId!(ref _batchIds[at++]);
        return _reader!.Read();
    }

    private void GetScore(ref VBuffer<float> value)
    {
        int classes = _core.Classes.Count;
        var editor = VBufferEditor.Create(ref value, classes);
        _probabilities.AsSpan(CurrentOffset(), classes).CopyTo(editor.Values);
        value = editor.Commit();
    }

    private void GetPredictedLabel(ref uint value) =>
        value = ImageScoringCore.PredictedKey(_probabilities.AsSpan(CurrentOffset(), _core.Classes.Count));

    private int CurrentOffset()
    {
        if (_rows.Position < 0 || _disposed)
        {
            throw new InvalidOperationException("The cursor is not on a row; call MoveNext first.");
        }

        return _batchIndex * _core.Classes.Count;
    }

    private int CheckColumn(DataViewSchema.Column column)
    {
        if (column.Index < 0 || column.Index >= _binding.OutputSchema.Count ||
            _binding.OutputSchema[column.Index].Name != column.Name)
        {
            throw new ArgumentOutOfRangeException(nameof(column), column.Name,
                $"Column '{column.Name}' (index {column.Index}) does not belong to this cursor's schema.");
        }

        return column.Index;
    }

    private static InvalidOperationException NotSameRows() => new(
        "The input data view returned different rows to two cursors opened on it, so rows cannot be scored in " +
        "batches. Cache the input first (mlContext.Data.Cache or AppendCacheCheckpoint).");
}
