using Trellis.Api.Metering;

namespace Trellis.Proxy.Telemetry;

/// <summary>
/// A histogram of durations on fixed bounds, recorded lock-free and without allocating: a short
/// scan over the bounds (in <see cref="TimeSpan"/> ticks) and two interlocked adds. A
/// <see cref="Snapshot"/> racing a record may see its bucket count but not yet its sum; the next
/// snapshot has both.
/// </summary>
internal sealed class LatencyHistogram
{
    private readonly long[] _boundTicks;
    // One per bound plus +Inf.
    private readonly long[] _counts;
    private long _sumTicks;

    public LatencyHistogram(IReadOnlyList<double> boundsSeconds)
    {
        _boundTicks = boundsSeconds.Select(s => (long)Math.Round(s * TimeSpan.TicksPerSecond)).ToArray();
        _counts = new long[_boundTicks.Length + 1];
    }

    public int BoundCount => _boundTicks.Length;

    /// <summary>Counts one observation; Prometheus buckets are upper-inclusive (<c>le</c>).</summary>
    public void Record(TimeSpan elapsed)
    {
        var ticks = Math.Max(0, elapsed.Ticks);
        var bounds = _boundTicks;
        var i = 0;
        while (i < bounds.Length && ticks > bounds[i])
        {
            i++;
        }

        Interlocked.Increment(ref _counts[i]);
        Interlocked.Add(ref _sumTicks, ticks);
    }

    public HistogramCounts Snapshot()
    {
        var counts = new long[_counts.Length];
        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] = Interlocked.Read(ref _counts[i]);
        }

        return new HistogramCounts(counts, (double)Interlocked.Read(ref _sumTicks) / TimeSpan.TicksPerSecond);
    }
}
