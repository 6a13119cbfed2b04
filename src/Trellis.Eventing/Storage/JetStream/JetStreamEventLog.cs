using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;

namespace Trellis.Eventing.Storage.JetStream;

/// <summary>
/// One log on JetStream. Appends are JetStream publishes (each append whole in one message, concurrent
/// appends sharing one: <see cref="JetStreamAppender"/>, <see cref="JetStreamSequence"/>); the answer comes
/// with the server's acknowledgement. One ordered
/// consumer follows the stream's tail into a memory window, so readers at the tail (every Trigger in
/// steady state) read from memory; a reader behind the window (catching up after a restart) fetches
/// from the stream with its own short-lived ordered consumer. Positions are kept in memory and written
/// to the key-value bucket every 100 ms, as the embedded store writes its positions file; prefixes of
/// the stream that every consumer has passed are purged.
/// </summary>
internal sealed partial class JetStreamEventLog : IEventLog, IAsyncDisposable
{
    private const long CacheBytes = 32L * 1024 * 1024;
    private const int PurgeEveryTicks = 50;
    private static readonly TimeSpan FetchLimit = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan SeenLimit = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan AppendLimit = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(200);

    private readonly INatsJSContext _js;
    private readonly string _stream;
    private readonly string _subject;
    private readonly ILogger _log;
    private readonly object _gate = new();
    private readonly List<StoredEvent> _cache = [];
    private readonly JetStreamPositions _positions;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _follower;
    private readonly Task _positionWriter;
    private readonly JetStreamAppender _appender;
    private int _cacheStart;
    private long _cacheBytes;
    private long _next;
    private ulong _followed;
    private bool _stalled; // under _gate: see SeenAsync
    private ulong _purgedBelow;
    private TaskCompletionSource _grown = NewSignal();

    private JetStreamEventLog(string name, string stream, INatsJSContext js, ulong lastSequence, long next, JetStreamPositions positions, ILogger log)
    {
        Name = name;
        _stream = stream;
        _subject = "trellis.events." + stream;
        _js = js;
        _log = log;
        _positions = positions;
        _next = next;
        _followed = lastSequence;
        _follower = Task.Run(() => FollowAsync(lastSequence + 1));
        _positionWriter = Task.Run(PositionLoopAsync);
        _appender = new JetStreamAppender(
            (data, headers, token) => _js.PublishAsync(_subject, data, headers: headers, cancellationToken: token),
            SeenAsync,
            AppendLimit,
            TimeProvider.System);
    }

    public string Name { get; }

    public long NextSequence => Interlocked.Read(ref _next);

    public static async Task<JetStreamEventLog> OpenAsync(string name, string stream, INatsJSContext js, INatsKVStore kv, int replicas, ILogger log, CancellationToken cancellationToken)
    {
        var config = new StreamConfig(stream, ["trellis.events." + stream])
        {
            Storage = StreamConfigStorage.File,
            NumReplicas = replicas,
            Retention = StreamConfigRetention.Limits,
            Discard = StreamConfigDiscard.New,
        };
        var created = await js.CreateOrUpdateStreamAsync(config, cancellationToken);
        var positions = await JetStreamPositions.LoadAsync(kv, stream, cancellationToken);
        var last = created.Info.State.LastSeq;
        var next = 1L;
        if (last > 0)
        {
            // The last message's events decide where the next sequence is (it may hold a batch).
            var events = await FetchAsync(js, stream, last, last, 1, log, name, cancellationToken);
            next = events.Count > 0 ? events[^1].Sequence + 1 : JetStreamSequence.Compose(last, 0) + 1;
        }

        return new JetStreamEventLog(name, stream, js, last, next, positions, log);
    }

    public ValueTask<long> AppendAsync(IReadOnlyList<ReadOnlyMemory<byte>> payloads, CancellationToken cancellationToken = default)
    {
        if (payloads.Count == 0)
        {
            return ValueTask.FromResult(NextSequence);
        }

        return payloads.Count > JetStreamSequence.MaxEventsPerAppend
            ? ValueTask.FromException<long>(new ArgumentException($"at most {JetStreamSequence.MaxEventsPerAppend} events per append", nameof(payloads)))
            : _appender.AppendAsync(payloads, cancellationToken);
    }

    /// <summary>
    /// Waits (a little) until the follower has the acknowledged message, so that after an append
    /// <see cref="NextSequence"/> covers it and a reader finds it, as with the embedded store. The event
    /// is durable either way: when the follower is slow (a reconnect), the append answers anyway. Once a
    /// wait has run out the follower is stalled (its consumer is being recreated after a server was lost,
    /// which waits for JetStream's new leaders), and appends answer at once until it moves again, instead
    /// of each one waiting out the limit: the cluster test saw ingress fall to a few events per second for
    /// half a minute after killing the stream's leader.
    /// </summary>
    private async Task SeenAsync(ulong streamSequence, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(SeenLimit);
        while (true)
        {
            Task grown;
            lock (_gate)
            {
                if (_followed >= streamSequence || _stalled)
                {
                    return;
                }

                grown = _grown.Task;
            }

            try
            {
                await grown.WaitAsync(limit.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                lock (_gate)
                {
                    _stalled = _followed < streamSequence;
                }

                return;
            }
        }
    }

    public async ValueTask<IReadOnlyList<StoredEvent>> ReadAsync(long from, int max, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Task grown;
            long next;
            lock (_gate)
            {
                next = _next;
                if (from < next)
                {
                    var cacheFrom = _cache.Count > _cacheStart ? _cache[_cacheStart].Sequence : next;
                    if (from >= cacheFrom)
                    {
                        return ReadCacheLocked(from, max);
                    }
                }

                grown = _grown.Task;
            }

            if (from < next)
            {
                var behind = await ReadBehindAsync(from, next, max, cancellationToken);
                if (behind.Count > 0)
                {
                    return behind;
                }

                // The stream did not answer (it is reconnecting): try again shortly rather than spin.
                await Task.Delay(RetryDelay, cancellationToken);
                continue;
            }

            await grown.WaitAsync(cancellationToken);
        }
    }

    public async ValueTask<long> GetPositionAsync(string consumer, CancellationToken cancellationToken = default)
    {
        // Starting at a guess could skip events: wait for the servers instead.
        while (true)
        {
            try
            {
                return await _positions.GetOrAddAsync(consumer, NextSequence, cancellationToken);
            }
            catch (Exception e) when (e is NatsException or TimeoutException)
            {
                LogPositionsFailed(_log, Name, e.Message);
                await Task.Delay(RetryDelay, cancellationToken);
            }
        }
    }

    public ValueTask SetPositionAsync(string consumer, long next, CancellationToken cancellationToken = default)
    {
        _positions.Set(consumer, next);
        return ValueTask.CompletedTask;
    }

    public ValueTask RemoveConsumerAsync(string consumer, CancellationToken cancellationToken = default)
    {
        _positions.Remove(consumer);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _appender.DisposeAsync();
        await _stopping.CancelAsync();
        await _follower;
        await _positionWriter;
        // The last positions, unless the servers are gone (then the consumers replay from the last written ones).
        using var limit = new CancellationTokenSource(AppendLimit);
        await PersistPositionsAsync(limit.Token);
        _stopping.Dispose();
    }

    private List<StoredEvent> ReadCacheLocked(long from, int max)
    {
        // The window is sorted by sequence: find the first event at or after from.
        int lo = _cacheStart, hi = _cache.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_cache[mid].Sequence < from)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return _cache.GetRange(lo, Math.Min(max, _cache.Count - lo));
    }

    /// <summary>Events from <paramref name="from"/> below <paramref name="next"/> (behind the window), read from the stream itself.</summary>
    private async Task<List<StoredEvent>> ReadBehindAsync(long from, long next, int max, CancellationToken cancellationToken)
    {
        var events = await FetchAsync(_js, _stream, JetStreamSequence.StreamSequence(from), JetStreamSequence.StreamSequence(next - 1), max, _log, Name, cancellationToken);
        return [.. events.Where(e => e.Sequence >= from && e.Sequence < next).Take(max)];
    }

    /// <summary>
    /// The events of up to <paramref name="maxMessages"/> messages from stream sequence <paramref name="first"/>
    /// to <paramref name="last"/> (inclusive, which exists), with a short-lived ordered consumer; empty when the read failed.
    /// </summary>
    private static async Task<List<StoredEvent>> FetchAsync(INatsJSContext js, string stream, ulong first, ulong last, int maxMessages, ILogger log, string name, CancellationToken cancellationToken)
    {
        var result = new List<StoredEvent>();
        if (first > last)
        {
            return result;
        }

        try
        {
            var consumer = await js.CreateOrderedConsumerAsync(
                stream,
                new NatsJSOrderedConsumerOpts { DeliverPolicy = ConsumerConfigDeliverPolicy.ByStartSequence, OptStartSeq = first },
                cancellationToken);
            var opts = new NatsJSFetchOpts { MaxMsgs = (int)Math.Min((ulong)maxMessages, last - first + 1), Expires = FetchLimit };
            await foreach (var msg in consumer.FetchAsync<byte[]>(opts, cancellationToken: cancellationToken))
            {
                var sequence = msg.Metadata!.Value.Sequence.Stream;
                if (sequence > last)
                {
                    break;
                }

                result.AddRange(Events(sequence, msg, log, name));
                if (sequence >= last)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is NatsException or TimeoutException)
        {
            LogReadFailed(log, name, e.Message);
        }

        return result;
    }

    /// <summary>Follows the stream from <paramref name="start"/> into the window, starting again after a lost connection.</summary>
    private async Task FollowAsync(ulong start)
    {
        var token = _stopping.Token;
        var next = start;
        while (!token.IsCancellationRequested)
        {
            try
            {
                var consumer = await _js.CreateOrderedConsumerAsync(
                    _stream,
                    new NatsJSOrderedConsumerOpts { DeliverPolicy = ConsumerConfigDeliverPolicy.ByStartSequence, OptStartSeq = next },
                    token);
                await foreach (var msg in consumer.ConsumeAsync<byte[]>(cancellationToken: token))
                {
                    var sequence = msg.Metadata!.Value.Sequence.Stream;
                    Grow(sequence, Events(sequence, msg, _log, Name));
                    next = sequence + 1;
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NatsException or TimeoutException or OperationCanceledException)
            {
                LogFollowFailed(_log, Name, e.Message);
                try
                {
                    await Task.Delay(RetryDelay, token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private static List<StoredEvent> Events(ulong sequence, INatsJSMsg<byte[]> msg, ILogger log, string name)
    {
        var count = msg.Headers is { } headers && headers.TryGetValue(AppendFrame.CountHeader, out var value) ? value.ToString() : null;
        var payloads = AppendFrame.Unpack(msg.Data ?? [], count);
        if (payloads is null)
        {
            LogUnreadable(log, name, sequence);
            return [];
        }

        return [.. payloads.Select((payload, i) => new StoredEvent(JetStreamSequence.Compose(sequence, i), payload))];
    }

    private void Grow(ulong sequence, List<StoredEvent> events)
    {
        TaskCompletionSource grown;
        lock (_gate)
        {
            foreach (var stored in events)
            {
                _cache.Add(stored);
                _cacheBytes += stored.Payload.Length;
            }

            while (_cacheBytes > CacheBytes && _cache.Count - _cacheStart > 1)
            {
                _cacheBytes -= _cache[_cacheStart++].Payload.Length;
            }

            if (_cacheStart > 4096 && _cacheStart > _cache.Count / 2)
            {
                _cache.RemoveRange(0, _cacheStart);
                _cacheStart = 0;
            }

            if (events.Count > 0)
            {
                Interlocked.Exchange(ref _next, Math.Max(_next, events[^1].Sequence + 1));
            }

            _followed = Math.Max(_followed, sequence);
            _stalled = false;
            grown = _grown;
            _grown = NewSignal();
        }

        grown.TrySetResult();
    }

    /// <summary>
    /// Positions go to the bucket at most every 100 ms: a crash replays at most that much, never skips. Finished
    /// messages are purged every <see cref="PurgeEveryTicks"/> ticks (5 s) only: a purge that cuts into a block of
    /// the stream's files makes the server rewrite the rest of that block, and purging every 100 ms under a steady
    /// stream took about a third of nats-server's CPU in the ingest benchmark (the embedded store, likewise, drops
    /// whole 64 MiB segments, not records).
    /// </summary>
    private async Task PositionLoopAsync()
    {
        var ticks = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                await PersistPositionsAsync(_stopping.Token);
                if (++ticks % PurgeEveryTicks == 0)
                {
                    await PurgeFinishedAsync(_stopping.Token);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task PersistPositionsAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _positions.PersistAsync(cancellationToken);
        }
        catch (Exception e) when (e is NatsException or TimeoutException || (e is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            LogPositionsFailed(_log, Name, e.Message);
        }
    }

    /// <summary>Removes the messages every consumer has finished (all of them when there is no consumer, as the embedded store does).</summary>
    private async Task PurgeFinishedAsync(CancellationToken cancellationToken)
    {
        ulong below;
        lock (_gate)
        {
            below = JetStreamSequence.StreamSequence(Math.Min(_positions.Oldest() ?? _next, _next));
        }

        if (below <= _purgedBelow + 1)
        {
            return;
        }

        try
        {
            await _js.PurgeStreamAsync(_stream, new StreamPurgeRequest { Seq = below }, cancellationToken);
            _purgedBelow = below - 1;
        }
        catch (Exception e) when (e is NatsException or TimeoutException)
        {
            LogPositionsFailed(_log, Name, e.Message);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(EventId = 2410, Level = LogLevel.Warning, Message = "JetStream log {Name}: following the stream failed ({Reason}); following again")]
    private static partial void LogFollowFailed(ILogger log, string name, string reason);

    [LoggerMessage(EventId = 2411, Level = LogLevel.Warning, Message = "JetStream log {Name}: reading behind the window failed ({Reason})")]
    private static partial void LogReadFailed(ILogger log, string name, string reason);

    [LoggerMessage(EventId = 2412, Level = LogLevel.Warning, Message = "JetStream log {Name}: writing positions or purging failed ({Reason}); trying again")]
    private static partial void LogPositionsFailed(ILogger log, string name, string reason);

    [LoggerMessage(EventId = 2413, Level = LogLevel.Warning, Message = "JetStream log {Name}: message {Sequence} is not an append of this store; skipped")]
    private static partial void LogUnreadable(ILogger log, string name, ulong sequence);
}
