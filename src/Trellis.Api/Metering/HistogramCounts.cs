namespace Trellis.Api.Metering;

/// <summary>
/// A histogram on fixed bounds (<see cref="HistogramBuckets"/>): <paramref name="Counts"/> has one
/// entry per bound plus the +Inf bucket, each counting observations in that bucket only (not
/// cumulative, unlike Prometheus's <c>_bucket</c> series, so that two histograms add element-wise).
/// </summary>
public sealed record HistogramCounts(IReadOnlyList<long> Counts, double SumSeconds)
{
    public static HistogramCounts Empty(int bounds) => new(new long[bounds + 1], 0);

    public long Count => Counts.Sum();

    public HistogramCounts Add(HistogramCounts other)
    {
        var counts = new long[Math.Max(Counts.Count, other.Counts.Count)];
        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] = (i < Counts.Count ? Counts[i] : 0) + (i < other.Counts.Count ? other.Counts[i] : 0);
        }

        return new HistogramCounts(counts, SumSeconds + other.SumSeconds);
    }

    /// <summary>
    /// The q-quantile (0..1) estimated as Prometheus's <c>histogram_quantile</c> does: linear
    /// interpolation inside the bucket that holds it, the lowest bucket starting at 0, and the
    /// highest finite bound when it falls in +Inf. Null without observations.
    /// </summary>
    public double? Quantile(double q, IReadOnlyList<double> bounds)
    {
        var total = Count;
        if (total == 0)
        {
            return null;
        }

        var rank = q * total;
        long seen = 0;
        for (var i = 0; i < Counts.Count; i++)
        {
            var inBucket = Counts[i];
            if (seen + inBucket >= rank && inBucket > 0)
            {
                if (i >= bounds.Count)
                {
                    return bounds[^1];
                }

                var lower = i == 0 ? 0 : bounds[i - 1];
                return lower + ((bounds[i] - lower) * ((rank - seen) / inBucket));
            }

            seen += inBucket;
        }

        return bounds[^1];
    }
}
