using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// Row-by-row face of <see cref="ImageScoringCore"/> for <c>PredictionEngine</c> and other row mappers. A row is
/// scored once per input position, whichever of the two output getters asks first.
/// </summary>
internal sealed class ImageScoringRowMapper : IRowToRowMapper
{
    private readonly ImageScoringCore _core;
    private readonly ImageScoringBinding _binding;

    public ImageScoringRowMapper(ImageScoringCore core, ImageScoringBinding binding)
    {
        _core = core;
        _binding = binding;
    }

    public DataViewSchema InputSchema => _binding.InputSchema;

    public DataViewSchema OutputSchema => _binding.OutputSchema;

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        ArgumentNullException.ThrowIfNull(dependingColumns);
        var needed = new SortedDictionary<int, DataViewSchema.Column>();
        foreach (DataViewSchema.Column column in dependingColumns)
        {
            DataViewSchema.Column input = column.Index < InputSchema.Count
                ? InputSchema[column.Index]
                : _binding.Image.Column;
            needed[input.Index] = input;
        }

        return needed.Values;
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(activeColumns);
        if (input.Schema != InputSchema)
        {
            throw new ArgumentException("The row's schema is not the schema this mapper was made for.", nameof(input));
        }

        var active = new bool[OutputSchema.Count];
        foreach (DataViewSchema.Column column in activeColumns)
        {
            active[column.Index] = true;
        }

        return new ScoredRow(_core, _binding, input, active);
    }

    private sealed class ScoredRow : DataViewRow
    {
        private readonly ImageScoringCore _core;
        private readonly ImageScoringBinding _binding;
        private readonly DataViewRow _input;
        private readonly bool[] _active;
        private readonly ImageRowReader? _reader;
        private readonly float[] _probabilities;
        private long _scoredPosition = -1;

        public ScoredRow(ImageScoringCore core, ImageScoringBinding binding, DataViewRow input, bool[] active)
        {
            _core = core;
            _binding = binding;
            _input = input;
            _active = active;
            _probabilities = new float[core.Classes.Count];
            if (active[binding.ScoreIndex] || active[binding.PredictedLabelIndex])
            {
                _reader = binding.Image.CreateReader(input);
            }
        }

        public override DataViewSchema Schema => _binding.OutputSchema;

        public override long Position => _input.Position;

        public override long Batch => _input.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index < _binding.InputSchema.Count
                ? _input.IsColumnActive(_binding.InputSchema[column.Index])
                : _active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _binding.InputSchema.Count)
            {
                return _input.GetGetter<TValue>(_binding.InputSchema[column.Index]);
            }

            if (!_active[column.Index])
            {
                throw new InvalidOperationException($"Column '{column.Name}' is not active in this row.");
            }

            Delegate getter = column.Index == _binding.ScoreIndex
                ? (ValueGetter<VBuffer<float>>)GetScore
                : (ValueGetter<uint>)GetPredictedLabel;
            return getter as ValueGetter<TValue> ?? throw new InvalidOperationException(
                $"Column '{column.Name}' has type {column.Type}; it cannot be read as {typeof(TValue).Name}.");
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _input.Dispose();
            }

            base.Dispose(disposing);
        }

        private void EnsureScored()
        {
            if (_scoredPosition == _input.Position && _scoredPosition >= 0)
            {
                return;
            }

            bool read = false;
            _core.ScoreBatch(() => read ? null : Once(ref read), 1, _probabilities);
            _scoredPosition = _input.Position;
        }

        private torch.Tensor Once(ref bool read)
        {
            read = true;
            return _reader!.Read();
        }

        private void GetScore(ref VBuffer<float> value)
        {
            EnsureScored();
            var editor = VBufferEditor.Create(ref value, _probabilities.Length);
            _probabilities.CopyTo(editor.Values);
            value = editor.Commit();
        }

        private void GetPredictedLabel(ref uint value)
        {
            EnsureScored();
            value = ImageScoringCore.PredictedKey(_probabilities);
        }
    }
}
