using Microsoft.ML;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// Opens an in-order row cursor that computes a column only when its getter is called. On a transformed view,
/// ML.NET's <see cref="IDataView.GetRowCursor"/> may return a consolidating cursor, which runs the transforms of every
/// row it passes on worker threads whether or not the value is read: with <c>LoadRawImageBytes</c>, every file the
/// cursor passes is read. Training sweeps all rows to reach the few images a window needs, so that would read the
/// whole folder once per window. A one-cursor set from <see cref="IDataView.GetRowCursorSet"/> is never split, so it
/// stays lazy; it visits the rows in the same order.
/// </summary>
internal static class LazyRowCursor
{
    /// <summary>Opens a lazy cursor over <paramref name="columns"/> of <paramref name="data"/>, or an ordinary cursor
    /// when the view cannot give exactly one.</summary>
    public static DataViewRowCursor Open(IDataView data, IEnumerable<DataViewSchema.Column> columns)
    {
        DataViewSchema.Column[] active = columns.ToArray();
        DataViewRowCursor[] set = data.GetRowCursorSet(active, n: 1);
        if (set.Length == 1)
        {
            return set[0];
        }

        foreach (DataViewRowCursor cursor in set)
        {
            cursor.Dispose();
        }

        return data.GetRowCursor(active);
    }
}
