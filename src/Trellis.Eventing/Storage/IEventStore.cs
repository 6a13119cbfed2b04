namespace Trellis.Eventing.Storage;

/// <summary>One stored event: its sequence number in its log (from 1, gap-free) and its bytes.</summary>
public readonly record struct StoredEvent(long Sequence, ReadOnlyMemory<byte> Payload);

/// <summary>
/// Durable storage for events, one named log per broker (and per async-invocation queue). Two
/// implementations behind it: the embedded <see cref="FileEventStore"/> (the data directory, group
/// commit) and JetStream for distributed mode.
/// </summary>
public interface IEventStore : IAsyncDisposable
{
    /// <summary>Opens (creating when needed) the log called <paramref name="name"/>; the same instance for the same name.</summary>
    ValueTask<IEventLog> OpenAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Removes a log and its consumers' positions (the broker was deleted).</summary>
    ValueTask DeleteAsync(string name, CancellationToken cancellationToken = default);
}

/// <summary>
/// An append-only log of events with named consumer positions. An append completes only once its
/// events are durable (the broker answers 202 after that); readers follow the log as it grows.
/// </summary>
public interface IEventLog
{
    string Name { get; }

    /// <summary>The sequence the next append gets; every sequence below it is durable.</summary>
    long NextSequence { get; }

    /// <summary>Appends all <paramref name="payloads"/> or none; returns the first one's sequence once they are on disk.</summary>
    ValueTask<long> AppendAsync(IReadOnlyList<ReadOnlyMemory<byte>> payloads, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="max"/> events from <paramref name="from"/> on; waits while there are none yet.</summary>
    ValueTask<IReadOnlyList<StoredEvent>> ReadAsync(long from, int max, CancellationToken cancellationToken = default);

    /// <summary>
    /// Where <paramref name="consumer"/> resumes: the first sequence it has not finished. A new consumer
    /// starts at the end of the log (a new Trigger gets the events that arrive from then on, as in
    /// Knative), and that position is kept from now on.
    /// </summary>
    ValueTask<long> GetPositionAsync(string consumer, CancellationToken cancellationToken = default);

    /// <summary>Records that <paramref name="consumer"/> finished every event below <paramref name="next"/>. May be persisted lazily: after a crash a consumer can see events again (at least once), never skip one.</summary>
    ValueTask SetPositionAsync(string consumer, long next, CancellationToken cancellationToken = default);

    /// <summary>Forgets a consumer (its Trigger was deleted), so it no longer holds events back from retention.</summary>
    ValueTask RemoveConsumerAsync(string consumer, CancellationToken cancellationToken = default);
}
