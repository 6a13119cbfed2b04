using Trellis.Proxy.Telemetry.Metrics;

namespace Trellis.Proxy.Tests.Telemetry;

public sealed class FixedHistogramTests
{
    [Fact]
    public void IstioDefaultBuckets_AreEnvoysDefaults()
    {
        Assert.Equal(
            [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000],
            HistogramLayout.IstioDefaultBuckets);
    }

    public static TheoryData<long, int> DurationCases() => new()
    {
        // microseconds -> bucket index (0 is le=0.5 ms, 19 is +Inf)
        { 0, 0 },
        { 500, 0 },   // upper-inclusive
        { 501, 1 },
        { 1000, 1 },
        { 1001, 2 },
        { 250_000, 7 },
        { 3_600_000_000, 18 },
        { 3_600_000_001, 19 },
    };

    [Theory]
    [MemberData(nameof(DurationCases))]
    public void Record_Milliseconds_UpperInclusiveBucket(long micros, int bucket)
    {
        var histogram = new FixedHistogram(HistogramLayout.Milliseconds);
        histogram.Record(micros);

        var counts = new long[20];
        var sum = histogram.Read(counts);

        Assert.Equal(micros, sum);
        Assert.Equal(1, counts[bucket]);
        Assert.Equal(1, counts.Sum());
    }

    public static TheoryData<long, int> ByteCases() => new()
    {
        { 0, 0 },     // at or below 0.5 bytes: nothing
        { 1, 1 },
        { 2, 2 },
        { 5, 2 },
        { 6, 3 },
        { 1000, 9 },
        { 1001, 10 },
    };

    [Theory]
    [MemberData(nameof(ByteCases))]
    public void Record_Bytes_UpperInclusiveBucket(long bytes, int bucket)
    {
        var histogram = new FixedHistogram(HistogramLayout.Bytes);
        histogram.Record(bytes);

        var counts = new long[20];
        histogram.Read(counts);

        Assert.Equal(1, counts[bucket]);
    }

    [Fact]
    public void Record_ConcurrentThreads_NothingLost()
    {
        var histogram = new FixedHistogram(HistogramLayout.Bytes);
        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                histogram.Record(i % 2000);
            }
        });

        var counts = new long[20];
        var sum = histogram.Read(counts);

        Assert.Equal(80_000, counts.Sum());
        Assert.Equal(8 * Enumerable.Range(0, 10_000).Sum(i => (long)(i % 2000)), sum);
    }
}
