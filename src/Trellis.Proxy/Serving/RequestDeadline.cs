using Trellis.Api.Snapshots;
using Trellis.Proxy.Forwarding;

namespace Trellis.Proxy.Serving;

/// <summary>
/// The timeouts of one request to a revision instance, with Knative's queue-proxy semantics (its
/// <c>timeoutHandler</c> wraps the breaker, so time spent queued counts):
/// <c>timeoutSeconds</c> and <c>responseStartTimeoutSeconds</c> bound the time until the response
/// starts (once it has, they no longer apply); <c>idleTimeoutSeconds</c> bounds every gap in which
/// no bytes go to the client. When one fires, <see cref="Token"/> is cancelled and <see cref="Reason"/> says which.
/// </summary>
internal sealed class RequestDeadline : IDisposable
{
    private const int Waiting = 0, Started = 1, Expired = 2;

    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _cts = new();
    private readonly ITimer? _timeout;
    private readonly ITimer? _responseStart;
    private readonly ITimer? _idle;
    private readonly long _idleTicks;
    private readonly CancellationTokenRegistration _clientGone;
    private int _state;
    private int _reason;
    private long _lastActivity;

    private RequestDeadline(InstanceServingConfig config, TimeProvider time, CancellationToken requestAborted)
    {
        _time = time;
        _lastActivity = time.GetTimestamp();
        // Token also ends a wait in the breaker when the client goes away; Reason then stays None.
        _clientGone = requestAborted.UnsafeRegister(static s => ((RequestDeadline)s!).Cancel(), this);
        if (config.Timeout is { } timeout)
        {
            _timeout = time.CreateTimer(static s => ((RequestDeadline)s!).ExpireBeforeStart(ForwardError.InstanceTimeout), this, timeout, Timeout.InfiniteTimeSpan);
        }

        if (config.ResponseStartTimeout is { } responseStart)
        {
            _responseStart = time.CreateTimer(static s => ((RequestDeadline)s!).ExpireBeforeStart(ForwardError.InstanceResponseStartTimeout), this, responseStart, Timeout.InfiniteTimeSpan);
        }

        if (config.IdleTimeout is { } idle)
        {
            _idleTicks = idle.Ticks;
            _idle = time.CreateTimer(static s => ((RequestDeadline)s!).CheckIdle(), this, idle, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Null when the config sets no timeout, so such requests allocate nothing.</summary>
    public static RequestDeadline? Start(InstanceServingConfig config, TimeProvider time, CancellationToken requestAborted) =>
        config.Timeout is null && config.ResponseStartTimeout is null && config.IdleTimeout is null
            ? null
            : new RequestDeadline(config, time, requestAborted);

    public CancellationToken Token => _cts.Token;

    /// <summary>Which timeout fired; <see cref="ForwardError.None"/> while none has.</summary>
    public ForwardError Reason => (ForwardError)Volatile.Read(ref _reason);

    public bool HasIdleTimeout => _idle is not null;

    /// <summary>
    /// Upstream response headers arrived (Knative counts the proxy's <c>WriteHeader</c> as the first write):
    /// from now on only the idle timeout applies. False when a timeout got there first.
    /// </summary>
    public bool ResponseStarted()
    {
        BytesSent();
        if (Interlocked.CompareExchange(ref _state, Started, Waiting) != Waiting)
        {
            return false;
        }

        _timeout?.Dispose();
        _responseStart?.Dispose();
        return true;
    }

    /// <summary>Bytes went to the client; restarts the idle period. A timestamp store, no timer change.</summary>
    public void BytesSent()
    {
        if (_idle is not null)
        {
            Volatile.Write(ref _lastActivity, _time.GetTimestamp());
        }
    }

    /// <summary>An upgraded connection (WebSocket) lives as long as both ends want, like a route timeout's.</summary>
    public void Disarm()
    {
        Interlocked.CompareExchange(ref _state, Started, Waiting);
        _timeout?.Dispose();
        _responseStart?.Dispose();
        _idle?.Dispose();
    }

    public void Dispose()
    {
        _clientGone.Dispose();
        _timeout?.Dispose();
        _responseStart?.Dispose();
        _idle?.Dispose();
        _cts.Dispose();
    }

    private void ExpireBeforeStart(ForwardError reason)
    {
        if (Interlocked.CompareExchange(ref _state, Expired, Waiting) == Waiting)
        {
            Fire(reason);
        }
    }

    private void CheckIdle()
    {
        // Writes only store a timestamp; the timer re-arms itself for the rest of the period instead
        // of being moved on every write (Knative's tryIdleTimeoutAndWriteError does the same).
        var idleFor = _time.GetElapsedTime(Volatile.Read(ref _lastActivity)).Ticks;
        if (idleFor < _idleTicks)
        {
            _idle!.Change(TimeSpan.FromTicks(_idleTicks - idleFor), Timeout.InfiniteTimeSpan);
            return;
        }

        Interlocked.CompareExchange(ref _state, Expired, Waiting);
        Fire(ForwardError.InstanceIdleTimeout);
    }

    private void Fire(ForwardError reason)
    {
        if (Interlocked.CompareExchange(ref _reason, (int)reason, (int)ForwardError.None) != (int)ForwardError.None)
        {
            return;
        }

        Cancel();
    }

    private void Cancel()
    {
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The request ended while the timer fired.
        }
    }
}
