namespace Trellis.Proxy.Telemetry;

/// <summary>
/// Time-weighted average of in-flight requests between two samples, as Knative's queue-proxy
/// reports it to the autoscaler (<c>RequestStats</c>: every change adds concurrency × time since the
/// previous change). Lock-free: the concurrency and the time of the last change share one 64-bit
/// word that events update by compare-and-swap, so they can never be read torn; the area they add
/// is a second word, and an addition that races a sample lands in the next interval, not lost.
/// Times are microseconds on any monotonic origin the caller picks.
/// </summary>
internal sealed class ConcurrencyTracker
{
    // Low 20 bits: requests in flight (up to ~1 M). High 44 bits: time of the last change in µs,
    // kept modulo 2^44 (~203 days); only differences are used, and they are far shorter than that.
    private const int CountBits = 20;
    private const long CountMask = (1L << CountBits) - 1;
    private const long TimeMask = (1L << (64 - CountBits)) - 1;

    private long _state;
    // Σ concurrency × µs since the last sample.
    private long _area;
    private long _requests;
    private long _requestsAtLastSample;
    private long _lastSampleMicros;

    /// <summary>Sets the origin of the first interval; call before the first request.</summary>
    public void Start(long nowMicros)
    {
        Volatile.Write(ref _state, Pack(0, nowMicros));
        _lastSampleMicros = nowMicros;
    }

    /// <summary>A <see cref="TimeProvider"/> timestamp in microseconds, the unit this tracker takes.</summary>
    public static long ToMicros(TimeProvider time, long timestamp) => (long)(timestamp * (1_000_000.0 / time.TimestampFrequency));

    public int InFlight => (int)(Volatile.Read(ref _state) & CountMask);

    /// <summary>Requests started since this tracker was created.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    public void RequestStarted(long nowMicros)
    {
        Interlocked.Increment(ref _requests);
        Change(+1, nowMicros);
    }

    public void RequestEnded(long nowMicros) => Change(-1, nowMicros);

    /// <summary>
    /// Average concurrency and requests started since the previous call (or creation). Callers
    /// serialize calls to this method; request events may run concurrently with it.
    /// </summary>
    public (double AverageConcurrency, long Requests) Sample(long nowMicros)
    {
        // Close the open segment at now, as if an event with no change happened.
        Change(0, nowMicros);
        var area = Interlocked.Exchange(ref _area, 0);
        var requests = Interlocked.Read(ref _requests);
        var started = requests - _requestsAtLastSample;
        _requestsAtLastSample = requests;
        var elapsed = nowMicros - _lastSampleMicros;
        _lastSampleMicros = nowMicros;
        return (elapsed > 0 ? (double)area / elapsed : InFlight, started);
    }

    private void Change(int delta, long nowMicros)
    {
        var state = Volatile.Read(ref _state);
        while (true)
        {
            var count = state & CountMask;
            var last = (long)((ulong)state >> CountBits);
            // Modular difference; clocks read on different threads may arrive slightly out of order.
            var elapsed = (nowMicros - last) & TimeMask;
            if (elapsed > TimeMask / 2)
            {
                elapsed = 0;
            }

            var next = Pack(count + delta, elapsed == 0 ? last : nowMicros);
            var seen = Interlocked.CompareExchange(ref _state, next, state);
            if (seen == state)
            {
                if (count > 0 && elapsed > 0)
                {
                    Interlocked.Add(ref _area, count * elapsed);
                }

                return;
            }

            state = seen;
        }
    }

    private static long Pack(long count, long micros) => ((micros & TimeMask) << CountBits) | (count & CountMask);
}
