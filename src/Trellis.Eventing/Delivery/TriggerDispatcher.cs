using CloudNative.CloudEvents;
using Trellis.Eventing.CloudEvents;
using Trellis.Eventing.Filtering;
using Trellis.Eventing.Storage;

namespace Trellis.Eventing.Delivery;

/// <summary>What a dispatcher delivers to, and how: everything it needs from its Trigger, resolved.</summary>
public sealed record TriggerRoute(string Consumer, EventFilter Filter, DeliveryTarget Subscriber, DeliveryTarget? DeadLetter, DeliveryPolicy Policy, int MaxInFlight = 64);

/// <summary>Counters a Trigger's status shows.</summary>
public sealed class DispatchCounters
{
    private long _delivered;
    private long _retried;
    private long _deadLettered;
    private long _dropped;
    private long _replies;

    public long Delivered => Interlocked.Read(ref _delivered);

    public long Retried => Interlocked.Read(ref _retried);

    public long DeadLettered => Interlocked.Read(ref _deadLettered);

    /// <summary>Failed for good with no dead-letter sink to take them (Knative drops them too).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public long Replies => Interlocked.Read(ref _replies);

    internal void CountDelivered() => Interlocked.Increment(ref _delivered);

    internal void CountRetried() => Interlocked.Increment(ref _retried);

    internal void CountDeadLettered() => Interlocked.Increment(ref _deadLettered);

    internal void CountDropped() => Interlocked.Increment(ref _dropped);

    internal void CountReply() => Interlocked.Increment(ref _replies);
}

/// <summary>
/// Delivers one Trigger's events from its broker's log, at least once. It reads from the Trigger's
/// position, skips what the filter rejects, and delivers up to <see cref="TriggerRoute.MaxInFlight"/>
/// events at a time, so a slow or failing event waits out its backoff without holding the others
/// back. The position advances over the longest finished prefix only (delivered, dead-lettered or
/// filtered out), so after a crash nothing unfinished is skipped. A 2xx answer that is a CloudEvent
/// is a reply and goes back into the broker.
/// </summary>
public sealed class TriggerDispatcher : IAsyncDisposable
{
    private readonly IEventLog _log;
    private readonly IEventSender _sender;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly SortedSet<long> _unfinished = [];
    private readonly object _gate = new();
    private readonly Task _loop;
    private volatile TriggerRoute _route;
    private long _readNext;
    private TaskCompletionSource _slotFreed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TriggerDispatcher(IEventLog log, TriggerRoute route, IEventSender sender, TimeProvider time)
    {
        _log = log;
        _route = route;
        _sender = sender;
        _time = time;
        _loop = Task.Run(RunAsync);
    }

    public DispatchCounters Counters { get; } = new();

    public TriggerRoute Route => _route;

    /// <summary>A changed Trigger (filter, subscriber, delivery) applies to events not yet attempted.</summary>
    public void Update(TriggerRoute route) => _route = route;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var token = _stop.Token;
        _readNext = await _log.GetPositionAsync(_route.Consumer, token);
        var running = new List<Task>();
        while (!token.IsCancellationRequested)
        {
            var batch = await _log.ReadAsync(Volatile.Read(ref _readNext), 256, token);
            foreach (var stored in batch)
            {
                var cloudEvent = Decode(stored);
                var route = _route;
                if (cloudEvent is null || !route.Filter.Matches(cloudEvent))
                {
                    lock (_gate)
                    {
                        _readNext = stored.Sequence + 1;
                    }

                    await AdvanceAsync(stored.Sequence, finished: false);
                    continue;
                }

                await WaitForSlotAsync(token);
                lock (_gate)
                {
                    // Unfinished before the read position passes it: the position never skips an event in flight.
                    _unfinished.Add(stored.Sequence);
                    _readNext = stored.Sequence + 1;
                }

                running.RemoveAll(t => t.IsCompleted);
                running.Add(DeliverAndReleaseAsync(stored.Sequence, cloudEvent, route, token));
            }
        }
    }

    /// <summary>
    /// Takes one of <see cref="TriggerRoute.MaxInFlight"/> slots. The limit is read each time, so it
    /// follows the subscriber's capacity (containerConcurrency × ready instances) as it scales.
    /// </summary>
    private async Task WaitForSlotAsync(CancellationToken token)
    {
        while (true)
        {
            Task freed;
            lock (_gate)
            {
                if (_unfinished.Count < Math.Max(1, _route.MaxInFlight))
                {
                    return;
                }

                freed = _slotFreed.Task;
            }

            await freed.WaitAsync(token);
        }
    }

    private async Task DeliverAndReleaseAsync(long sequence, CloudEvent cloudEvent, TriggerRoute route, CancellationToken token)
    {
        try
        {
            await DeliverAsync(cloudEvent, route, token);
            await AdvanceAsync(sequence, finished: true);
        }
        catch (OperationCanceledException)
        {
            // Stopping: the event stays unfinished and is delivered again after the restart.
        }
    }

    /// <summary>The position is the smallest unfinished sequence, or the read position when none is in flight.</summary>
    private ValueTask AdvanceAsync(long sequence, bool finished)
    {
        long position;
        lock (_gate)
        {
            if (finished)
            {
                _unfinished.Remove(sequence);
            }

            position = _unfinished.Count > 0 ? _unfinished.Min : _readNext;
            if (finished)
            {
                _slotFreed.TrySetResult();
                _slotFreed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        return _log.SetPositionAsync(_route.Consumer, position);
    }

    private async Task DeliverAsync(CloudEvent cloudEvent, TriggerRoute route, CancellationToken token)
    {
        var result = await AttemptWithRetriesAsync(route.Subscriber, cloudEvent, route.Policy, token);
        if (result.Succeeded)
        {
            Counters.CountDelivered();
            await PublishReplyAsync(result, token);
            return;
        }

        if (route.DeadLetter is not { } deadLetter)
        {
            Counters.CountDropped();
            return;
        }

        ErrorExtensions.Add(cloudEvent, route.Subscriber.Logical, result);
        var dead = await AttemptWithRetriesAsync(deadLetter, cloudEvent, route.Policy, token);
        if (dead.Succeeded)
        {
            Counters.CountDeadLettered();
        }
        else
        {
            Counters.CountDropped();
        }
    }

    private async Task<AttemptResult> AttemptWithRetriesAsync(DeliveryTarget target, CloudEvent cloudEvent, DeliveryPolicy policy, CancellationToken token)
    {
        for (var retry = 0; ; retry++)
        {
            var result = await _sender.SendAsync(target, cloudEvent, policy.Timeout, token);
            if (result.Succeeded || !DeliveryPolicy.IsRetryable(result.Status) || retry >= policy.Retry)
            {
                return result;
            }

            Counters.CountRetried();
            var wait = policy.Backoff(retry + 1);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, _time, token);
            }
        }
    }

    /// <summary>A reply (a CloudEvent in the 2xx answer, binary or structured) is published to the broker like any event.</summary>
    private async Task PublishReplyAsync(AttemptResult result, CancellationToken token)
    {
        if (result.Body.IsEmpty && !result.Headers.Any(h => h.Key.Equals("ce-specversion", StringComparison.OrdinalIgnoreCase)))
        {
            return;
        }

        var reply = CloudEventHttp.Decode(new EventMessage(result.ContentType, result.Headers, result.Body));
        if (!reply.Ok)
        {
            return;
        }

        await _log.AppendAsync([.. reply.Events.Select(e => CloudEventHttp.Serialize(e))], token);
        Counters.CountReply();
    }

    private static CloudEvent? Decode(StoredEvent stored)
    {
        try
        {
            return CloudEventHttp.Deserialize(stored.Payload);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
