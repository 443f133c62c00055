using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using Microsoft.ML;
using MLNet.PromptTuning.Data;
using TorchSharp;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// One pass of a <see cref="DataViewImageSource"/>. A reader thread walks the pass a window of consecutive batches at
/// a time: images held by the cache are copied, the others are visited in one forward sweep of a data-view cursor
/// (sorted by row position; the cursor is reopened only when the window needs an earlier row) and handed to decoding
/// threads, which decode, resize and write each into its batch slot. Finished windows wait in a queue of one window
/// for the training thread. Memory beyond the cache is therefore at most two windows of stored images plus the
/// images being decoded, whatever the size of the data; batch contents never depend on timing or thread count.
/// </summary>
internal sealed class DataViewBatchStream : IImageBatchStream
{
    private readonly DataViewImageSource _source;
    private readonly long[]? _order;
    private readonly int _batchSize;
    private readonly int _batchCount;
    private readonly int _windowRows;
    private readonly CancellationToken _cancellation;
    private readonly CancellationTokenSource _stop;
    private readonly BlockingCollection<PendingBatch> _ready;
    private readonly BlockingCollection<DecodeJob> _jobs;
    private readonly Thread _reader;
    private readonly Thread[] _decoders;
    private ExceptionDispatchInfo? _failure;
    private int _rowsInFlight;
    private int _delivered;
    private bool _disposed;

    public DataViewBatchStream(DataViewImageSource source, long[]? order, int batchSize,
        CancellationToken cancellation)
    {
        _source = source;
        _order = order;
        _batchSize = batchSize;
        _batchCount = (source.Count + batchSize - 1) / batchSize;
        int batchesPerWindow = Math.Max(1, (source.Settings.WindowRows + batchSize - 1) / batchSize);
        _windowRows = batchesPerWindow * batchSize;
        _cancellation = cancellation;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        _ready = new BlockingCollection<PendingBatch>(batchesPerWindow);
        int threads = source.Settings.Threads;
        _jobs = new BlockingCollection<DecodeJob>(2 * threads);
        _decoders = new Thread[threads];
        for (int i = 0; i < threads; i++)
        {
            _decoders[i] = new Thread(DecodeJobs) { IsBackground = true, Name = $"PromptViT image decoder {i + 1}" };
            _decoders[i].Start();
        }

        _reader = new Thread(ReadWindows) { IsBackground = true, Name = "PromptViT image reader" };
        _reader.Start();
    }

    /// <inheritdoc/>
    public (torch.Tensor Images, torch.Tensor Labels) Next()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_delivered == _batchCount)
        {
            throw new InvalidOperationException("Every batch of this pass was already read.");
        }

        PendingBatch batch;
        try
        {
            batch = _ready.Take(_cancellation);
        }
        catch (InvalidOperationException) when (_ready.IsCompleted)
        {
            _failure?.Throw();
            _cancellation.ThrowIfCancellationRequested();
            throw new InvalidOperationException("The image reader stopped before the pass ended.");
        }

        Interlocked.Add(ref _rowsInFlight, -batch.Rows);
        _delivered++;
        var s = _source;
        var images = torch.empty(new long[] { batch.Rows, s.Channels, s.Height, s.Width }, torch.ScalarType.Byte);
        images.bytes = batch.Pixels;
        batch.Release();
        return (images, torch.tensor(batch.Labels, new long[] { batch.Rows }));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _stop.Cancel();
        _reader.Join();
        foreach (Thread decoder in _decoders)
        {
            decoder.Join();
        }

        _stop.Dispose();
        _ready.Dispose();
        _jobs.Dispose();
    }

    private void ReadWindows()
    {
        var rows = _source.Rows;
        var settings = _source.Settings;
        DataViewRowCursor? cursor = null;
        ImageRowReader? reader = null;
        long position = -1;
        try
        {
            for (int start = 0; start < _source.Count; start += _windowRows)
            {
                int end = Math.Min(_source.Count, start + _windowRows);
                var batches = new List<PendingBatch>();
                for (int first = start; first < end; first += _batchSize)
                {
                    batches.Add(new PendingBatch(Math.Min(_batchSize, end - first), settings.RowBytes));
                }

                int inFlight = Interlocked.Add(ref _rowsInFlight, end - start);
                _source.PeakRowsInFlight = Math.Max(_source.PeakRowsInFlight, inFlight);
                var misses = new List<Miss>();
                for (int k = start; k < end; k++)
                {
                    int index = (int)(_order?[k] ?? k);
                    var batch = batches[(k - start) / _batchSize];
                    int slot = (k - start) % _batchSize;
                    batch.Labels[slot] = rows.Labels[index];
                    if (!_source.Cache.TryCopyTo(index, batch.Slot(slot)))
                    {
                        misses.Add(new Miss(rows.Positions[index], index, batch, slot));
                    }
                }

                if (misses.Count > 0)
                {
                    misses.Sort((a, b) => a.Position.CompareTo(b.Position));
                    var done = new CountdownEvent(misses.Count); // not disposed: a cancelled decoder may still signal
                    foreach (Miss miss in misses)
                    {
                        if (cursor is null || miss.Position < position)
                        {
                            cursor?.Dispose();
                            cursor = LazyRowCursor.Open(rows.Data, new[] { rows.Image.Column });
                            reader = rows.Image.CreateReader(cursor);
                            position = -1;
                        }

                        while (position < miss.Position)
                        {
                            if (!cursor.MoveNext())
                            {
                                throw new InvalidOperationException(
                                    $"The data view returned {position + 1} rows, fewer than when its labels were " +
                                    "read; training data must return the same rows every time it is read.");
                            }

                            if ((++position & 255) == 0)
                            {
                                settings.CheckAlive?.Invoke();
                            }
                        }

                        settings.CheckAlive?.Invoke();
                        _jobs.Add(new DecodeJob(reader!.Capture(), miss.Index, miss.Batch, miss.Slot, done),
                            _stop.Token);
                    }

                    done.Wait(_stop.Token);
                }

                foreach (PendingBatch batch in batches)
                {
                    _ready.Add(batch, _stop.Token);
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Disposed, cancelled, or a decoder failed (it recorded the failure).
        }
        catch (Exception e)
        {
            Fail(e);
        }
        finally
        {
            cursor?.Dispose();
            _jobs.CompleteAdding();
            _ready.CompleteAdding();
        }
    }

    private void DecodeJobs()
    {
        var settings = _source.Settings;
        try
        {
            foreach (DecodeJob job in _jobs.GetConsumingEnumerable(_stop.Token))
            {
                try
                {
                    Span<byte> slot = job.Batch.Slot(job.Slot);
                    settings.DecodeInto(job.Image, slot);
                    _source.Cache.Store(job.Index, slot);
                }
                catch (Exception e)
                {
                    Fail(e);
                }
                finally
                {
                    job.Done.Signal();
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The pass was disposed or failed.
        }
    }

    private void Fail(Exception e)
    {
        if (Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(e), null) is null)
        {
            _stop.Cancel();
        }
    }

    /// <summary>
    /// A batch being filled: stored pixels of each image one after another, and the labels. The pixel buffer (about
    /// 5 MB for 32 images at 224×224) is rented from the shared pool and returned once copied into a tensor: a new
    /// array per batch is large-object garbage, which the runtime frees only in full collections, and with it a
    /// 5,000-image pass peaked 370 MB higher.
    /// </summary>
    private sealed class PendingBatch(int rows, int rowBytes)
    {
        private readonly byte[] _buffer = ArrayPool<byte>.Shared.Rent(rows * rowBytes);

        public int Rows { get; } = rows;

        public Span<byte> Pixels => _buffer.AsSpan(0, Rows * rowBytes);

        public long[] Labels { get; } = new long[rows];

        public Span<byte> Slot(int slot) => _buffer.AsSpan(slot * rowBytes, rowBytes);

        /// <summary>Returns the pixel buffer to the pool; the batch must not be used afterwards.</summary>
        public void Release() => ArrayPool<byte>.Shared.Return(_buffer);
    }

    private readonly record struct Miss(long Position, int Index, PendingBatch Batch, int Slot);

    private sealed record DecodeJob(CapturedImage Image, int Index, PendingBatch Batch, int Slot,
        CountdownEvent Done);
}
