using Trellis.Api.LiveViews;

namespace Trellis.Proxy.Telemetry.Live;

/// <summary>
/// The recent requests of one edge (caller, callee, service, reporter) for the live views: a ring of one-second slots,
/// each with the requests by <see cref="LatencyBuckets"/> bucket, the successes and the mTLS ones. A request adds to its
/// second's slot with interlocked increments and allocates nothing; the first request of a new second clears the slot
/// the ring reuses (under a lock, once per second per edge). A request that races that clear at the turn of a second
/// may land in either second: the views are estimates over many requests, not an audit.
/// </summary>
internal sealed class EdgeWindow
{
    /// <summary>Slots in the ring (a power of two): the longest window is a little less.</summary>
    public const int Slots = 64;

    /// <summary>The longest window a reader may ask for, in seconds (slots the writer may be clearing are never read).</summary>
    public const int MaxWindowSeconds = LiveWindow.MaxSeconds;

    private static readonly int Successes = LatencyBuckets.Count;
    private static readonly int MutualTlsCount = LatencyBuckets.Count + 1;

    /// <summary>Counters per slot: the latency buckets, then successes, then mTLS requests.</summary>
    public static readonly int Stride = LatencyBuckets.Count + 2;

    // The second each slot holds, plus one (0: never used).
    private readonly long[] _seconds = new long[Slots];
    private readonly long[] _counts = new long[Slots * Stride];
    private readonly Lock _clear = new();

    public void Record(long second, int bucket, bool success, bool mutualTls)
    {
        var slot = (int)(second & (Slots - 1));
        if (Volatile.Read(ref _seconds[slot]) != second + 1 && !Claim(slot, second + 1))
        {
            return;
        }

        var at = slot * Stride;
        Interlocked.Increment(ref _counts[at + bucket]);
        if (success)
        {
            Interlocked.Increment(ref _counts[at + Successes]);
        }

        if (mutualTls)
        {
            Interlocked.Increment(ref _counts[at + MutualTlsCount]);
        }
    }

    /// <summary>Clears a slot for a new second; false when the slot already holds a later second (a request that took a minute to be counted).</summary>
    private bool Claim(int slot, long stamp)
    {
        lock (_clear)
        {
            var held = _seconds[slot];
            if (held == stamp)
            {
                return true;
            }

            if (held > stamp)
            {
                return false;
            }

            Array.Clear(_counts, slot * Stride, Stride);
            Volatile.Write(ref _seconds[slot], stamp);
            return true;
        }
    }

    /// <summary>
    /// Adds the <paramref name="seconds"/> whole seconds before <paramref name="now"/> and the current one (as far as it
    /// has gone) into <paramref name="into"/> (<see cref="Stride"/> counters); returns the requests among them. The
    /// window so covers a little more than <paramref name="seconds"/>, never less, and a rate over it is never inflated.
    /// </summary>
    public long Read(long now, int seconds, Span<long> into)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(seconds, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(seconds, MaxWindowSeconds);
        long requests = 0;
        for (var second = now - seconds; second <= now; second++)
        {
            var slot = (int)(second & (Slots - 1));
            if (Volatile.Read(ref _seconds[slot]) != second + 1)
            {
                continue;
            }

            var at = slot * Stride;
            for (var i = 0; i < Stride; i++)
            {
                var count = Interlocked.Read(ref _counts[at + i]);
                into[i] += count;
                if (i < Successes)
                {
                    requests += count;
                }
            }
        }

        return requests;
    }

    /// <summary>The successes in counters read by <see cref="Read"/>.</summary>
    public static long SuccessesOf(ReadOnlySpan<long> counters) => counters[Successes];

    /// <summary>The mTLS requests in counters read by <see cref="Read"/>.</summary>
    public static long MutualTlsOf(ReadOnlySpan<long> counters) => counters[MutualTlsCount];
}
