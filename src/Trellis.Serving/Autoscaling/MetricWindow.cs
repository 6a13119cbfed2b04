using System.Collections.Immutable;

namespace Trellis.Serving.Autoscaling;

/// <summary>
/// Per-second buckets of one metric (total concurrency or rps of a revision, summed over its instances), averaged
/// over a window the way Knative's <c>TimedFloat64Buckets.WindowAverage</c> does
/// (<c>pkg/autoscaler/aggregation/bucketing.go</c>):
/// <list type="bullet">
/// <item>values recorded in the same second add up (one sample per instance per second gives the revision total);</item>
/// <item>a second without a sample counts as 0 inside the window;</item>
/// <item>the window ends at the last write: if samples stop, the average is over the part of the window that has data,
/// and after a whole window without data it is 0 and <see cref="IsEmpty"/> is true;</item>
/// <item>the window starts at the first write after a gap of at least one window, so a fresh revision's average is over
/// the seconds it has actually been measured.</item>
/// </list>
/// Immutable: <see cref="Record"/> returns a new window. Samples older than <see cref="Retention"/> before the newest
/// are dropped, so keep the retention at least the stable window.
/// </summary>
public sealed record MetricWindow
{
    private const int Precision = 6;

    private readonly ImmutableSortedDictionary<long, double> _buckets;

    // The newest bucket dropped by retention; it still counts as the predecessor of the oldest kept bucket when
    // deciding whether a window started after a gap.
    private readonly long? _lastDropped;

    private MetricWindow(TimeSpan retention, ImmutableSortedDictionary<long, double> buckets, long? lastDropped)
    {
        Retention = retention;
        _buckets = buckets;
        _lastDropped = lastDropped;
    }

    public TimeSpan Retention { get; }

    public static MetricWindow Empty(TimeSpan retention) =>
        retention <= TimeSpan.Zero
            ? throw new ArgumentOutOfRangeException(nameof(retention), "retention must be positive")
            : new MetricWindow(retention, ImmutableSortedDictionary<long, double>.Empty, null);

    /// <summary>The second of the newest sample, if any.</summary>
    public DateTimeOffset? LastWrite => _buckets.Count == 0 ? null : DateTimeOffset.FromUnixTimeSeconds(_buckets.Keys.Last());

    public MetricWindow Record(DateTimeOffset at, double value)
    {
        var second = at.ToUnixTimeSeconds();
        var retention = Seconds(Retention);
        if (_buckets.Count > 0)
        {
            var last = _buckets.Keys.Last();
            if (second <= last - retention)
            {
                return this; // older than a window before the newest sample: Knative ignores it too
            }
        }

        var buckets = _buckets.SetItem(second, _buckets.GetValueOrDefault(second) + value);
        var newest = buckets.Keys.Last();
        var lastDropped = _lastDropped;
        foreach (var key in buckets.Keys)
        {
            if (key > newest - retention)
            {
                break;
            }

            buckets = buckets.Remove(key);
            lastDropped = key;
        }

        return new MetricWindow(Retention, buckets, lastDropped);
    }

    /// <summary>True when nothing was recorded in the <paramref name="window"/> before <paramref name="now"/>.</summary>
    public bool IsEmpty(DateTimeOffset now, TimeSpan window) =>
        _buckets.Count == 0 || now.ToUnixTimeSeconds() - _buckets.Keys.Last() > Seconds(window);

    /// <summary>The average per second over <paramref name="window"/> ending at <paramref name="now"/>.</summary>
    public double Average(DateTimeOffset now, TimeSpan window)
    {
        if (_buckets.Count == 0)
        {
            return 0;
        }

        var n = Seconds(window);
        var nowS = now.ToUnixTimeSeconds();
        var last = _buckets.Keys.Last();
        if (nowS - last >= n)
        {
            return 0;
        }

        var start = Math.Max(FirstWrite(n), Math.Max(nowS, last) - n + 1);
        double sum = 0;
        foreach (var (key, value) in _buckets)
        {
            if (key >= start)
            {
                sum += value;
            }
        }

        var average = sum / (last - start + 1);
        var scale = Math.Pow(10, Precision);
        return Math.Floor(average * scale) / scale;
    }

    /// <summary>The first bucket after the newest gap of at least <paramref name="windowSeconds"/>.</summary>
    private long FirstWrite(long windowSeconds)
    {
        long? next = null;
        foreach (var key in _buckets.Keys.Reverse())
        {
            if (next is { } n && n - key >= windowSeconds)
            {
                return n;
            }

            next = key;
        }

        var oldest = next!.Value;
        return _lastDropped is { } dropped && oldest - dropped < windowSeconds ? dropped : oldest;
    }

    private static long Seconds(TimeSpan d) => (long)Math.Ceiling(d.TotalSeconds);
}
