using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;

namespace Trellis.Eventing.Storage;

/// <summary>
/// The embedded log: segment files in one directory. Appends queue up and one writer task commits
/// everything queued in one write and one fsync (group commit, as databases do), then completes all
/// of them: one fsync serves every publisher that arrived while the previous one ran, which is what
/// lets a broker answer thousands of durable 202s a second on one disk. Recent events stay in memory
/// for the readers that follow the tail; older ones are read back from their segment.
/// </summary>
internal sealed class FileEventLog : IEventLog, IAsyncDisposable
{
    private const long SegmentBytes = 64L * 1024 * 1024;
    private const long CacheBytes = 32L * 1024 * 1024;
    private const int MaxCommitBytes = 8 * 1024 * 1024;

    private readonly string _directory;
    private readonly Channel<PendingAppend> _pending = Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions { SingleReader = true });
    private readonly object _gate = new();
    private readonly List<LogSegment> _segments;
    /// <summary>
    /// The newest events (up to <see cref="CacheBytes"/>) from <see cref="_cacheStart"/> on, so readers at the tail are
    /// served from memory. Indexed, not a queue: sequences are gap-free, so a read finds its first event by
    /// subtraction. (A Queue read with Skip walked the whole cache under the lock on every read, up to ~100,000
    /// entries once the cache is full, holding the committer back with it.)
    /// </summary>
    private readonly List<StoredEvent> _cache = [];
    private int _cacheStart;
    private readonly Dictionary<string, long> _positions;
    private readonly Task _writer;
    private readonly Task _positionWriter;
    private readonly CancellationTokenSource _stopping = new();
    private FileStream _active;
    private long _cacheBytes;
    private long _next;
    private bool _positionsDirty;
    private TaskCompletionSource _grown = NewSignal();

    private FileEventLog(string name, string directory, List<LogSegment> segments, Dictionary<string, long> positions)
    {
        Name = name;
        _directory = directory;
        _segments = segments;
        _positions = positions;
        _next = segments[^1].End;
        _active = new FileStream(segments[^1].Path, FileMode.Open, FileAccess.Write, FileShare.Read);
        _active.SetLength(segments[^1].Length);
        _active.Position = segments[^1].Length;
        _writer = Task.Run(WriteLoopAsync);
        _positionWriter = Task.Run(PositionLoopAsync);
    }

    public string Name { get; }

    public long NextSequence => Interlocked.Read(ref _next);

    /// <summary>How many write+fsync rounds the log has made (the group-commit tests compare it with the appends).</summary>
    internal long Commits { get; private set; }

    /// <summary>Opens the log in <paramref name="directory"/>, cutting off a torn tail left by a crash.</summary>
    public static FileEventLog Open(string name, string directory)
    {
        Directory.CreateDirectory(directory);
        var segments = new List<LogSegment>();
        var files = Directory.GetFiles(directory, "*.log").Order(StringComparer.Ordinal).ToList();
        foreach (var file in files)
        {
            var first = long.Parse(Path.GetFileNameWithoutExtension(file), System.Globalization.CultureInfo.InvariantCulture);
            if (segments.Count > 0 && first != segments[^1].End)
            {
                // A gap means the previous segment lost its tail: nothing after it can be trusted.
                File.Delete(file);
                continue;
            }

            segments.Add(LogSegment.Recover(file, first));
        }

        if (segments.Count == 0)
        {
            var path = Path.Combine(directory, LogSegment.FileName(1));
            File.WriteAllBytes(path, []);
            segments.Add(new LogSegment(1, path));
        }

        return new FileEventLog(name, directory, segments, ReadPositions(directory));
    }

    public ValueTask<long> AppendAsync(IReadOnlyList<ReadOnlyMemory<byte>> payloads, CancellationToken cancellationToken = default)
    {
        if (payloads.Count == 0)
        {
            return ValueTask.FromResult(NextSequence);
        }

        var pending = new PendingAppend(payloads);
        return _pending.Writer.TryWrite(pending)
            ? new ValueTask<long>(pending.Done.Task.WaitAsync(cancellationToken))
            : ValueTask.FromException<long>(new ObjectDisposedException(Name));
    }

    public async ValueTask<IReadOnlyList<StoredEvent>> ReadAsync(long from, int max, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Task grown;
            lock (_gate)
            {
                if (from < _next)
                {
                    return ReadLocked(from, max);
                }

                grown = _grown.Task;
            }

            await grown.WaitAsync(cancellationToken);
        }
    }

    public ValueTask<long> GetPositionAsync(string consumer, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_positions.TryGetValue(consumer, out var position))
            {
                _positions[consumer] = position = _next;
                _positionsDirty = true;
            }

            return ValueTask.FromResult(position);
        }
    }

    public ValueTask SetPositionAsync(string consumer, long next, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_positions.TryGetValue(consumer, out var old) || next > old)
            {
                _positions[consumer] = next;
                _positionsDirty = true;
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask RemoveConsumerAsync(string consumer, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _positionsDirty |= _positions.Remove(consumer);
        }

        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await _writer;
        await _stopping.CancelAsync();
        await _positionWriter;
        PersistPositions();
        await _active.DisposeAsync();
        _stopping.Dispose();
    }

    private IReadOnlyList<StoredEvent> ReadLocked(long from, int max)
    {
        var cacheStart = CacheStartLocked();
        if (from >= cacheStart)
        {
            var first = _cacheStart + (int)(from - cacheStart);
            return _cache.GetRange(first, Math.Min(max, _cache.Count - first));
        }

        // Behind the cache (a consumer catching up after a restart): read the records from their segment.
        var segment = _segments.LastOrDefault(s => s.First <= from) ?? _segments[0];
        from = Math.Max(from, segment.First);
        var count = (int)Math.Min(max, segment.End - from);
        var result = new List<StoredEvent>(count);
        using var file = new FileStream(segment.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        file.Position = segment.Offsets[(int)(from - segment.First)];
        Span<byte> header = stackalloc byte[LogRecord.HeaderSize];
        for (var i = 0; i < count; i++)
        {
            file.ReadExactly(header);
            var length = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(header);
            var payload = new byte[length];
            file.ReadExactly(payload);
            result.Add(new StoredEvent(from + i, payload));
        }

        return result;
    }

    private async Task WriteLoopAsync()
    {
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        var batch = new List<PendingAppend>();
        while (await _pending.Reader.WaitToReadAsync())
        {
            batch.Clear();
            buffer.Clear();
            var bytes = 0;
            while (bytes < MaxCommitBytes && _pending.Reader.TryRead(out var pending))
            {
                batch.Add(pending);
                bytes += pending.Payloads.Sum(p => p.Length + LogRecord.HeaderSize);
            }

            Commit(batch, buffer);
        }
    }

    /// <summary>One write and one fsync for every append in <paramref name="batch"/>, then their completions.</summary>
    private void Commit(List<PendingAppend> batch, ArrayBufferWriter<byte> buffer)
    {
        var sequence = _next;
        var segment = _segments[^1];
        var offsets = new List<long>();
        var events = new List<StoredEvent>();
        foreach (var pending in batch)
        {
            pending.First = sequence;
            foreach (var payload in pending.Payloads)
            {
                offsets.Add(segment.Length + buffer.WrittenCount);
                events.Add(new StoredEvent(sequence, payload));
                LogRecord.Write(buffer, sequence++, payload.Span);
            }
        }

        try
        {
            _active.Write(buffer.WrittenSpan);
            _active.Flush(flushToDisk: true);
            Commits++;
        }
        catch (IOException e)
        {
            // Nothing of this batch is acknowledged; the partial write is cut off so the log stays whole.
            _active.SetLength(segment.Length);
            _active.Position = segment.Length;
            foreach (var pending in batch)
            {
                pending.Done.TrySetException(e);
            }

            return;
        }

        TaskCompletionSource grown;
        lock (_gate)
        {
            segment.Offsets.AddRange(offsets);
            segment.Length += buffer.WrittenCount;
            foreach (var stored in events)
            {
                _cache.Add(stored);
                _cacheBytes += stored.Payload.Length;
            }

            while (_cacheBytes > CacheBytes && _cache.Count - _cacheStart > 1)
            {
                _cacheBytes -= _cache[_cacheStart].Payload.Length;
                _cache[_cacheStart++] = default;  // its bytes are released now, not at the next compaction
            }

            // The evicted prefix is dropped in one move once it is half the list: amortised O(1) per event.
            if (_cacheStart > 4096 && _cacheStart > _cache.Count / 2)
            {
                _cache.RemoveRange(0, _cacheStart);
                _cacheStart = 0;
            }

            Interlocked.Exchange(ref _next, sequence);
            grown = _grown;
            _grown = NewSignal();
        }

        foreach (var pending in batch)
        {
            pending.Done.TrySetResult(pending.First);
        }

        grown.TrySetResult();
        if (segment.Length >= SegmentBytes)
        {
            Roll();
        }
    }

    /// <summary>Starts a new segment file and drops the old ones every consumer has finished.</summary>
    private void Roll()
    {
        _active.Dispose();
        var path = Path.Combine(_directory, LogSegment.FileName(_next));
        _active = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
        lock (_gate)
        {
            _segments.Add(new LogSegment(_next, path));
        }
    }

    private void DropFinishedSegments()
    {
        List<LogSegment> finished;
        lock (_gate)
        {
            var oldest = _positions.Count == 0 ? _next : _positions.Values.Min();
            var cacheStart = CacheStartLocked();
            finished = [.. _segments.Take(_segments.Count - 1).Where(s => s.End <= oldest && s.End <= cacheStart)];
            _segments.RemoveAll(finished.Contains);
        }

        foreach (var segment in finished)
        {
            File.Delete(segment.Path);
        }
    }

    /// <summary>Positions go to disk at most every 100 ms: a crash replays at most that much, never skips.</summary>
    private async Task PositionLoopAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                PersistPositions();
                DropFinishedSegments();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void PersistPositions()
    {
        byte[] json;
        lock (_gate)
        {
            if (!_positionsDirty)
            {
                return;
            }

            json = JsonSerializer.SerializeToUtf8Bytes(_positions);
            _positionsDirty = false;
        }

        var path = Path.Combine(_directory, "positions.json");
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            file.Write(json);
            file.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }

    private static Dictionary<string, long> ReadPositions(string directory)
    {
        var path = Path.Combine(directory, "positions.json");
        return File.Exists(path) ? JsonSerializer.Deserialize<Dictionary<string, long>>(File.ReadAllBytes(path)) ?? [] : [];
    }

    /// <summary>The sequence of the oldest cached event (the next one to be appended when none is cached); under the gate.</summary>
    private long CacheStartLocked() => _cache.Count > _cacheStart ? _cache[_cacheStart].Sequence : _next;

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class PendingAppend(IReadOnlyList<ReadOnlyMemory<byte>> payloads)
    {
        public IReadOnlyList<ReadOnlyMemory<byte>> Payloads { get; } = payloads;

        public TaskCompletionSource<long> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long First { get; set; }
    }
}
