using System.Globalization;
using System.Threading.Channels;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Trellis.Eventing.Storage.JetStream;

/// <summary>
/// Group commit on JetStream: appends queue up, and one loop publishes everything queued as one message
/// (an <see cref="AppendFrame"/>), with up to <see cref="MaxInFlight"/> such publishes awaiting their
/// acknowledgement at once. Each append still completes only once the message holding it is acknowledged,
/// and lies whole inside one message, so it is stored whole or not at all. What it saves: per event, a
/// JetStream message costs the server a stream write and an acknowledgement, and the log's follower a
/// delivery; under load one message carries the events of every request that arrived during the previous
/// round trip (as the embedded store's one fsync serves every append queued during the previous one).
/// A lone append is published at once, as it is, so a quiet broker adds no wait.
/// </summary>
internal sealed class JetStreamAppender : IAsyncDisposable
{
    /// <summary>
    /// Publishes awaiting acknowledgement at once. More than one keeps the connection busy while an
    /// acknowledgement travels back; few, so that appends arriving meanwhile wait in the queue and share
    /// the next message instead of each taking a message of its own.
    /// </summary>
    internal const int MaxInFlight = 4;

    /// <summary>A message gathers appends up to this size (a larger single append goes alone, up to the server's max_payload).</summary>
    internal const int MaxMessageBytes = 1024 * 1024;

    private readonly Channel<PendingAppend> _pending = Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _inFlight = new(MaxInFlight, MaxInFlight);
    private readonly Func<ReadOnlyMemory<byte>, NatsHeaders?, CancellationToken, ValueTask<PubAckResponse>> _publish;
    private readonly Func<ulong, CancellationToken, Task> _seen;
    private readonly TimeSpan _limit;
    private readonly TimeProvider _time;
    private readonly Task _loop;

    /// <param name="publish">Publishes one message to the log's subject and returns JetStream's acknowledgement.</param>
    /// <param name="seen">Waits (a little) until the log's follower has the message of that stream sequence.</param>
    /// <param name="limit">How long an append waits for its acknowledgement before it is an error.</param>
    public JetStreamAppender(
        Func<ReadOnlyMemory<byte>, NatsHeaders?, CancellationToken, ValueTask<PubAckResponse>> publish,
        Func<ulong, CancellationToken, Task> seen,
        TimeSpan limit,
        TimeProvider time)
    {
        _publish = publish;
        _seen = seen;
        _limit = limit;
        _time = time;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>
    /// The first event's log sequence once the message holding all of <paramref name="payloads"/> is acknowledged;
    /// an <see cref="IOException"/> when it is not within the limit (see <see cref="PublishOnceAsync"/>).
    /// </summary>
    public ValueTask<long> AppendAsync(IReadOnlyList<ReadOnlyMemory<byte>> payloads, CancellationToken cancellationToken)
    {
        var pending = new PendingAppend(payloads, _time.GetTimestamp());
        ObjectDisposedException.ThrowIf(!_pending.Writer.TryWrite(pending), this);
        return new ValueTask<long>(cancellationToken.CanBeCanceled ? pending.Done.Task.WaitAsync(cancellationToken) : pending.Done.Task);
    }

    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await _loop;
        // The publishes still awaiting their acknowledgement hold a slot each: waiting for every slot waits for them.
        for (var i = 0; i < MaxInFlight; i++)
        {
            await _inFlight.WaitAsync();
        }

        _inFlight.Dispose();
    }

    private async Task LoopAsync()
    {
        var reader = _pending.Reader;
        while (await reader.WaitToReadAsync())
        {
            // A slot first: while every slot waits for an acknowledgement, new appends gather in the queue.
            await _inFlight.WaitAsync();
            var batch = Take(reader);
            if (batch.Count == 0)
            {
                _inFlight.Release();
                continue;
            }

            _ = PublishAsync(batch);
        }
    }

    /// <summary>
    /// The queued appends that fit one message (at least one). Appends whose caller gave up are dropped, and
    /// so are those that waited out the limit in the queue (their callers get the time-out now).
    /// </summary>
    private List<PendingAppend> Take(ChannelReader<PendingAppend> reader)
    {
        var batch = new List<PendingAppend>();
        long bytes = 0, events = 0;
        while (reader.TryPeek(out var next))
        {
            var size = next.Bytes;
            if (batch.Count > 0 && (bytes + size > MaxMessageBytes || events + next.Payloads.Count > JetStreamSequence.MaxEventsPerAppend))
            {
                break;
            }

            reader.TryRead(out _);
            if (next.Done.Task.IsCompleted)
            {
                continue;
            }

            if (_time.GetElapsedTime(next.Enqueued) >= _limit)
            {
                next.Done.TrySetException(NotAcknowledged());
                continue;
            }

            batch.Add(next);
            bytes += size;
            events += next.Payloads.Count;
        }

        return batch;
    }

    private async Task PublishAsync(List<PendingAppend> batch)
    {
        ulong streamSequence;
        try
        {
            streamSequence = await PublishOnceAsync(batch);
        }
        catch (Exception e)
        {
            // An IOException (not acknowledged) is the callers' 503; anything else is a bug, and it reaches them too
            // rather than leaving them to their time limit.
            foreach (var pending in batch)
            {
                pending.Done.TrySetException(e);
            }

            return;
        }
        finally
        {
            _inFlight.Release();
        }

        await _seen(streamSequence, CancellationToken.None);
        var index = 0;
        foreach (var pending in batch)
        {
            pending.Done.TrySetResult(JetStreamSequence.Compose(streamSequence, index));
            index += pending.Payloads.Count;
        }
    }

    /// <summary>
    /// One message for the whole batch: a single event as it is (readable by any NATS client), several framed.
    /// Without a server the client would hold the publish until it reconnects: the publish is given up once the
    /// batch's oldest append has waited the limit, so no append waits longer for its answer (one timer per
    /// message, not one per append). A batch is younger than every publish before it (the queue is in order),
    /// so a queued append gets a slot, and its answer, by its own deadline too.
    /// </summary>
    private async Task<ulong> PublishOnceAsync(List<PendingAppend> batch)
    {
        var payloads = batch.Count == 1 ? batch[0].Payloads : [.. batch.SelectMany(p => p.Payloads)];
        var left = _limit - _time.GetElapsedTime(batch[0].Enqueued);
        using var limit = new CancellationTokenSource(left > TimeSpan.Zero ? left : TimeSpan.Zero, _time);
        try
        {
            var ack = payloads.Count == 1
                ? await _publish(payloads[0], null, limit.Token)
                : await _publish(
                    AppendFrame.Pack(payloads),
                    new NatsHeaders { [AppendFrame.CountHeader] = payloads.Count.ToString(CultureInfo.InvariantCulture) },
                    limit.Token);
            ack.EnsureSuccess();
            return ack.Seq;
        }
        catch (OperationCanceledException)
        {
            throw NotAcknowledged();
        }
        catch (Exception e) when (e is NatsException or TimeoutException)
        {
            // Not acknowledged: the callers answer an error, and JetStream did not keep a message it did not acknowledge
            // (or, after a lost acknowledgement, keeps it and it is delivered: at least once, as in Knative).
            throw new IOException($"JetStream did not store the event: {e.Message}", e);
        }
    }

    private IOException NotAcknowledged() => new($"JetStream did not acknowledge the event within {_limit.TotalSeconds} s");

    private sealed class PendingAppend(IReadOnlyList<ReadOnlyMemory<byte>> payloads, long enqueued)
    {
        public IReadOnlyList<ReadOnlyMemory<byte>> Payloads { get; } = payloads;

        /// <summary>When it was queued (<see cref="TimeProvider.GetTimestamp"/>): its time limit runs from here.</summary>
        public long Enqueued { get; } = enqueued;

        /// <summary>Framed size: what it adds to a message.</summary>
        public long Bytes { get; } = payloads.Sum(p => 4L + p.Length);

        public TaskCompletionSource<long> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
