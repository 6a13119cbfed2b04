using System.Buffers;
using System.Net.Sockets;
using Trellis.Proxy.Telemetry.Metrics;
using Trellis.Proxy.Upstream;

namespace Trellis.Proxy.Tcp;

/// <summary>How a relayed connection ended.</summary>
internal enum TcpRelayEnd
{
    /// <summary>Both sides closed their sending half (each FIN was passed on to the other side).</summary>
    Closed,

    /// <summary>No byte moved either way for the idle timeout (Istio's <c>tcp.idleTimeout</c>, 1 h by default).</summary>
    IdleTimeout,

    /// <summary>The connection lasted <c>tcp.maxConnectionDuration</c>.</summary>
    DurationLimit,

    /// <summary>The client reset the connection (or it broke): the upstream side is closed too.</summary>
    DownstreamReset,

    /// <summary>The upstream reset the connection (or it broke): the client side is closed too.</summary>
    UpstreamReset,

    /// <summary>The listener stopped (drain time over).</summary>
    Stopped,
}

/// <param name="Received">Bytes from the client relayed upstream (Istio's received bytes).</param>
/// <param name="Sent">Bytes from the upstream relayed to the client (Istio's sent bytes).</param>
internal readonly record struct TcpRelayResult(TcpRelayEnd End, long Received, long Sent);

/// <param name="IdleTimeout">Close when no byte moved for this long; null: never.</param>
/// <param name="MaxDuration">Close when the connection has lasted this long; null: never.</param>
internal readonly record struct TcpRelayLimits(TimeSpan? IdleTimeout, TimeSpan? MaxDuration);

/// <summary>
/// Relays the bytes of one proxied TCP connection both ways, as Envoy's <c>tcp_proxy</c> does:
/// <list type="bullet">
/// <item>Half-close: a side that finishes sending (FIN) has that passed on to the other side (<c>shutdown(SHUT_WR)</c>,
/// after a close_notify when the proxy speaks TLS to it), while the other direction goes on until it finishes too; a
/// request/response protocol that closes its request side still gets its answer.</item>
/// <item>Backpressure: each direction reads the next chunk only once the previous one is sent whole, so a slow
/// reader slows the writer through the kernel's buffers; the proxy holds one 16 KiB buffer per direction.</item>
/// <item>A reset (or any socket error) on one side closes the other at once.</item>
/// <item>Idle timeout and maximum duration from the cluster's connection pool, on the injected clock.</item>
/// </list>
/// Both sides are transports (<see cref="IUpstreamTransport"/>): the client's socket, and the upstream's plain TCP or the
/// TLS the proxy originates (DestinationRule SIMPLE/MUTUAL). Failures are values (<see cref="TcpRelayEnd"/>), never exceptions.
/// </summary>
internal static class TcpRelay
{
    public const int BufferSize = 16 * 1024;

    // Which side broke first (a failure on one side cancels the other direction, which then fails too).
    private const int ClientSide = 1;
    private const int UpstreamSide = 2;

    /// <param name="prefix">Bytes already read from the client (a peeked ClientHello), sent upstream first.</param>
    public static async Task<TcpRelayResult> RunAsync(
        IUpstreamTransport client, IUpstreamTransport upstream, ReadOnlyMemory<byte> prefix, TcpRelayLimits limits, TcpSeries? series, TimeProvider time, CancellationToken stop)
    {
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var activity = new Activity(time.GetTimestamp());
        var received = new Counter();
        var sent = new Counter();
        var broken = new FirstFailure(abort);
        var up = PumpAsync(new Direction(client, upstream, ClientSide, UpstreamSide, received, series is null ? null : series.AddReceived), prefix, activity, time, broken);
        var down = PumpAsync(new Direction(upstream, client, UpstreamSide, ClientSide, sent, series is null ? null : series.AddSent), ReadOnlyMemory<byte>.Empty, activity, time, broken);
        var both = Task.WhenAll(up, down);

        var end = await WatchAsync(both, limits, activity, time, stop);
        if (end is not null)
        {
            await abort.CancelAsync();
        }

        await both;
        end ??= stop.IsCancellationRequested ? TcpRelayEnd.Stopped : broken.Side switch
        {
            ClientSide => TcpRelayEnd.DownstreamReset,
            UpstreamSide => TcpRelayEnd.UpstreamReset,
            _ => TcpRelayEnd.Closed,
        };
        return new TcpRelayResult(end.Value, received.Value, sent.Value);
    }

    /// <summary>Waits for both directions to end, or for a limit; returns the limit that ended the connection, or null.</summary>
    private static async Task<TcpRelayEnd?> WatchAsync(Task both, TcpRelayLimits limits, Activity activity, TimeProvider time, CancellationToken stop)
    {
        if (limits.IdleTimeout is null && limits.MaxDuration is null)
        {
            await both.WaitAsync(Timeout.InfiniteTimeSpan, time, stop).ContinueWith(static _ => { }, TaskScheduler.Default);
            return stop.IsCancellationRequested && !both.IsCompleted ? TcpRelayEnd.Stopped : null;
        }

        var started = activity.Started;
        while (!both.IsCompleted)
        {
            var now = time.GetTimestamp();
            var idleLeft = limits.IdleTimeout is { } idle ? idle - time.GetElapsedTime(activity.Last, now) : TimeSpan.MaxValue;
            var durationLeft = limits.MaxDuration is { } max ? max - time.GetElapsedTime(started, now) : TimeSpan.MaxValue;
            if (durationLeft <= TimeSpan.Zero)
            {
                return TcpRelayEnd.DurationLimit;
            }

            if (idleLeft <= TimeSpan.Zero)
            {
                return TcpRelayEnd.IdleTimeout;
            }

            using var wake = CancellationTokenSource.CreateLinkedTokenSource(stop);
            var delay = Task.Delay(idleLeft < durationLeft ? idleLeft : durationLeft, time, wake.Token);
            var first = await Task.WhenAny(both, delay);
            await wake.CancelAsync();
            if (stop.IsCancellationRequested && !both.IsCompleted)
            {
                return TcpRelayEnd.Stopped;
            }

            _ = first;
        }

        return null;
    }

    private static async Task PumpAsync(Direction d, ReadOnlyMemory<byte> prefix, Activity activity, TimeProvider time, FirstFailure broken)
    {
        var token = broken.Token;
        if (!prefix.IsEmpty && !await SendAsync(d, prefix, activity, time, token))
        {
            await broken.RecordAsync(d.ToSide);
            return;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            while (true)
            {
                int read;
                try
                {
                    read = await d.From.ReceiveAsync(buffer, token);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
                {
                    await broken.RecordAsync(d.FromSide);
                    return;
                }

                if (read == 0)
                {
                    // The side finished sending: pass its FIN on and let the other direction run to its own end.
                    try
                    {
                        await d.To.ShutdownSendAsync();
                    }
                    catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                    {
                        // The other side is gone already; its own pump sees that.
                    }

                    return;
                }

                if (!await SendAsync(d, buffer.AsMemory(0, read), activity, time, token))
                {
                    await broken.RecordAsync(d.ToSide);
                    return;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async ValueTask<bool> SendAsync(Direction d, ReadOnlyMemory<byte> data, Activity activity, TimeProvider time, CancellationToken token)
    {
        try
        {
            await d.To.SendAsync(data, token);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return false;
        }

        d.Counter.Add(data.Length);
        d.Count?.Invoke(data.Length);
        activity.Touch(time.GetTimestamp());
        return true;
    }

    /// <summary>One direction: bytes read from <see cref="From"/> are sent to <see cref="To"/> and counted.</summary>
    private sealed record Direction(IUpstreamTransport From, IUpstreamTransport To, int FromSide, int ToSide, Counter Counter, Action<long>? Count);

    /// <summary>The side whose failure ended the connection; the first failure cancels everything else.</summary>
    private sealed class FirstFailure(CancellationTokenSource abort)
    {
        private int _side;

        public int Side => Volatile.Read(ref _side);

        public CancellationToken Token => abort.Token;

        public async ValueTask RecordAsync(int side)
        {
            if (!abort.IsCancellationRequested)
            {
                Interlocked.CompareExchange(ref _side, side, 0);
            }

            await abort.CancelAsync();
        }
    }

    /// <summary>When the connection started and when a byte last moved, in <see cref="TimeProvider"/> timestamps.</summary>
    private sealed class Activity(long started)
    {
        private long _last = started;

        public long Started { get; } = started;

        public long Last => Volatile.Read(ref _last);

        public void Touch(long now) => Volatile.Write(ref _last, now);
    }

    private sealed class Counter
    {
        private long _value;

        public long Value => Interlocked.Read(ref _value);

        public void Add(long bytes) => Interlocked.Add(ref _value, bytes);
    }
}
