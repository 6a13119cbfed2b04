namespace Trellis.Proxy.Telemetry.Metrics;

/// <summary>
/// A Prometheus histogram over whole-number observations (microseconds, bytes) with fixed bounds, recorded lock-free
/// and without allocating: a short scan over the bounds and two interlocked adds. Buckets are upper-inclusive
/// (<c>le</c>). A scrape racing a record may see the bucket but not yet the sum; the next scrape has both.
/// </summary>
internal sealed class FixedHistogram
{
    private readonly HistogramLayout _layout;
    // One per bound plus +Inf; not cumulative (the exposition adds them up).
    private readonly long[] _counts;
    private long _sum;

    public FixedHistogram(HistogramLayout layout)
    {
        _layout = layout;
        _counts = new long[layout.Bounds.Length + 1];
    }

    public HistogramLayout Layout => _layout;

    public void Record(long value)
    {
        var bounds = _layout.Bounds;
        var i = 0;
        while (i < bounds.Length && value > bounds[i])
        {
            i++;
        }

        Interlocked.Increment(ref _counts[i]);
        Interlocked.Add(ref _sum, value);
    }

    /// <summary>Per-bucket counts (one per bound, then +Inf) into <paramref name="counts"/>; returns the sum in recorded units.</summary>
    public long Read(Span<long> counts)
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            counts[i] = Interlocked.Read(ref _counts[i]);
        }

        return Interlocked.Read(ref _sum);
    }
}

/// <summary>
/// The bounds of a histogram family: as exposed (<see cref="Labels"/>, in the family's unit) and as compared (in the
/// recorded unit, <see cref="Scale"/> of them per exposed unit, rounded down: whole numbers at or below a bound of
/// 0.5 bytes are the zeros).
/// </summary>
internal sealed class HistogramLayout
{
    public HistogramLayout(IReadOnlyList<double> bounds, double scale)
    {
        Scale = scale;
        Bounds = bounds.Select(b => (long)Math.Floor(b * scale)).ToArray();
        Labels = bounds.Select(PrometheusWriter.Number).ToArray();
    }

    /// <summary>
    /// Envoy's default histogram buckets, which Istio's stats plugin uses for <c>istio_request_duration_milliseconds</c>,
    /// <c>istio_request_bytes</c> and <c>istio_response_bytes</c> alike (no <c>sidecar.istio.io/statsHistogramBuckets</c>
    /// override): 0.5 to 3 600 000.
    /// </summary>
    public static readonly IReadOnlyList<double> IstioDefaultBuckets =
        [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

    /// <summary>Durations: recorded in microseconds, exposed in milliseconds.</summary>
    public static readonly HistogramLayout Milliseconds = new(IstioDefaultBuckets, 1000);

    /// <summary>Sizes: recorded and exposed in bytes.</summary>
    public static readonly HistogramLayout Bytes = new(IstioDefaultBuckets, 1);

    public long[] Bounds { get; }

    public string[] Labels { get; }

    public double Scale { get; }
}
