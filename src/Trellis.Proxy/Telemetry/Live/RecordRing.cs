namespace Trellis.Proxy.Telemetry.Live;

/// <summary>
/// A bounded ring of recent records (tap records, access-log lines) with a sequence number each, read by any number of
/// followers from their own cursor: a follower that falls more than the capacity behind misses the oldest records and is
/// told how many. Appending never waits for readers.
/// </summary>
internal sealed class RecordRing<T>
    where T : class
{
    private readonly T?[] _items;
    private readonly Lock _lock = new();
    private long _next;
    // Completed at the next append; replaced only once a reader has taken it, so appends without readers allocate nothing.
    private TaskCompletionSource? _appended;

    public RecordRing(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _items = new T?[capacity];
    }

    public int Capacity => _items.Length;

    /// <summary>The sequence number the next record gets (records so far).</summary>
    public long Next
    {
        get
        {
            lock (_lock)
            {
                return _next;
            }
        }
    }

    public void Append(T item)
    {
        TaskCompletionSource? appended;
        lock (_lock)
        {
            _items[_next % _items.Length] = item;
            _next++;
            appended = _appended;
            _appended = null;
        }

        appended?.TrySetResult();
    }

    /// <summary>
    /// The records numbered <paramref name="from"/> and later into <paramref name="into"/>; returns the cursor to read
    /// from next. <paramref name="first"/>: the number of the first record read; records from <paramref name="from"/>
    /// up to it are gone from the ring (the follower missed <c>first - from</c>).
    /// </summary>
    public long Read(long from, List<T> into, out long first)
    {
        lock (_lock)
        {
            var oldest = Math.Max(0, _next - _items.Length);
            var start = Math.Max(from, oldest);
            first = start;
            for (var seq = start; seq < _next; seq++)
            {
                into.Add(_items[seq % _items.Length]!);
            }

            return Math.Max(_next, from);
        }
    }

    /// <summary>Completes once a record numbered <paramref name="cursor"/> or later exists (at once if it does), or on cancellation.</summary>
    public Task WaitAsync(long cursor, CancellationToken cancellationToken)
    {
        Task waiting;
        lock (_lock)
        {
            if (_next > cursor)
            {
                return Task.CompletedTask;
            }

            _appended ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            waiting = _appended.Task;
        }

        return waiting.WaitAsync(cancellationToken);
    }
}
