using Trellis.Api.LiveViews;

namespace Trellis.Api.Tests.LiveViews;

public sealed class LatencyBucketsTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(10, 0)] // bounds are inclusive
    [InlineData(11, 1)]
    [InlineData(13, 1)]
    [InlineData(100, 10)]
    [InlineData(1000, 20)]
    [InlineData(1001, 21)]
    [InlineData(10_000_000, 60)]
    [InlineData(10_000_001, 61)] // the overflow bucket
    [InlineData(long.MaxValue, 61)]
    public void Index_Duration_FirstBucketNotBelowIt(long micros, int expected)
    {
        Assert.Equal(expected, LatencyBuckets.Index(micros));
    }

    [Fact]
    public void Bounds_TenADecadeFrom10MicrosecondsTo10Seconds()
    {
        Assert.Equal(61, LatencyBuckets.Bounds.Length);
        Assert.Equal(62, LatencyBuckets.Count);
        Assert.Equal(10, LatencyBuckets.Bounds[0]);
        Assert.Equal(1000, LatencyBuckets.Bounds[20]);
        Assert.Equal(10_000_000, LatencyBuckets.Bounds[^1]);
        Assert.True(LatencyBuckets.Bounds.Zip(LatencyBuckets.Bounds.Skip(1)).All(p => p.First < p.Second));
    }

    [Fact]
    public void Quantile_Empty_Null()
    {
        Assert.Null(LatencyBuckets.Quantile(new long[LatencyBuckets.Count], 0.5));
    }

    [Fact]
    public void Quantile_OneBucket_InterpolatedWithinIt()
    {
        // 100 requests between 794 µs and 1 ms (bucket 20): the median halfway, p99 near the top, as histogram_quantile.
        var counts = new long[LatencyBuckets.Count];
        counts[20] = 100;
        var lower = LatencyBuckets.Bounds[19] / 1000.0;
        Assert.Equal(lower + ((1.0 - lower) * 0.5), LatencyBuckets.Quantile(counts, 0.5)!.Value, 6);
        Assert.Equal(lower + ((1.0 - lower) * 0.99), LatencyBuckets.Quantile(counts, 0.99)!.Value, 6);
    }

    [Fact]
    public void Quantile_TwoPopulations_PercentilesFallInTheirBuckets()
    {
        // 90 fast (≈1 ms) and 10 slow (≈100 ms): p50 is fast, p95 and p99 are slow.
        var counts = new long[LatencyBuckets.Count];
        counts[LatencyBuckets.Index(1_000)] = 90;
        counts[LatencyBuckets.Index(100_000)] = 10;
        Assert.InRange(LatencyBuckets.Quantile(counts, 0.50)!.Value, 0.79, 1.0);
        Assert.InRange(LatencyBuckets.Quantile(counts, 0.95)!.Value, 79.4, 100);
        Assert.InRange(LatencyBuckets.Quantile(counts, 0.99)!.Value, 79.4, 100);
        Assert.Equal(1.0, LatencyBuckets.Quantile(counts, 0.90)!.Value, 6); // the 90th is the last fast one
    }

    [Fact]
    public void Quantile_Overflow_AnswersTheLastBound()
    {
        var counts = new long[LatencyBuckets.Count];
        counts[^1] = 3;
        Assert.Equal(10_000, LatencyBuckets.Quantile(counts, 0.5));
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.1)]
    public void Quantile_OutOfRange_Throws(double quantile)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LatencyBuckets.Quantile(new long[LatencyBuckets.Count], quantile));
    }
}
