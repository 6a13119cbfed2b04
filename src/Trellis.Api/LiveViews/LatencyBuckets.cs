namespace Trellis.Api.LiveViews;

/// <summary>
/// The latency histogram of the live views (<c>trellis stat</c>): finer than Istio's Prometheus buckets (0.5, 1, 5, 10,
/// 25 ms, ...), which are too coarse for percentiles of calls that take a millisecond or less on one host. Ten buckets a
/// decade from 10 µs to 10 s (bounds 10^(k/10) µs, each 1.26 times the last), then one for everything slower. Proxies
/// count into these buckets and the control plane adds them up across proxies, so both ends share this one layout.
/// </summary>
public static class LatencyBuckets
{
    /// <summary>Upper bounds (inclusive) in microseconds; a duration above the last goes to the overflow bucket.</summary>
    public static readonly long[] Bounds = BuildBounds();

    /// <summary>Buckets a histogram has: one per bound and the overflow.</summary>
    public static int Count => Bounds.Length + 1;

    private static long[] BuildBounds()
    {
        var bounds = new long[61];
        for (var k = 0; k < bounds.Length; k++)
        {
            bounds[k] = (long)Math.Round(Math.Pow(10, (k + 10) / 10.0));
        }

        return bounds;
    }

    /// <summary>The bucket of a duration in microseconds: the first whose bound is not below it.</summary>
    public static int Index(long micros)
    {
        var i = Array.BinarySearch(Bounds, micros);
        return i >= 0 ? i : ~i;
    }

    /// <summary>
    /// The <paramref name="quantile"/> (0..1) of a histogram in milliseconds, as Prometheus's <c>histogram_quantile</c>
    /// estimates it: the bucket holding the rank, interpolated linearly within it (from 0 for the first). The overflow
    /// bucket answers the last bound. Null for an empty histogram.
    /// </summary>
    public static double? Quantile(IReadOnlyList<long> counts, double quantile)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quantile, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quantile, 1);
        long total = 0;
        for (var i = 0; i < counts.Count; i++)
        {
            total += counts[i];
        }

        if (total == 0)
        {
            return null;
        }

        var rank = quantile * total;
        long below = 0;
        for (var i = 0; i < counts.Count; i++)
        {
            var count = counts[i];
            if (count > 0 && below + count >= rank)
            {
                if (i >= Bounds.Length)
                {
                    return Bounds[^1] / 1000.0;
                }

                double lower = i == 0 ? 0 : Bounds[i - 1];
                double upper = Bounds[i];
                return (lower + ((upper - lower) * Math.Max(0, rank - below) / count)) / 1000.0;
            }

            below += count;
        }

        return Bounds[^1] / 1000.0;
    }
}
