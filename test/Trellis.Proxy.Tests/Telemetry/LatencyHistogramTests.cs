using Trellis.Api.Metering;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Tests.Telemetry;

public sealed class LatencyHistogramTests
{
    [Theory]
    [InlineData(0.0, 0)] // at or below the first bound
    [InlineData(0.001, 0)] // bounds are upper-inclusive, as Prometheus's le
    [InlineData(0.0011, 1)]
    [InlineData(0.01, 1)]
    [InlineData(0.5, 2)]
    [InlineData(1.0, 2)]
    [InlineData(1.5, 3)] // above the last bound: +Inf
    [InlineData(-1.0, 0)] // a clock that went backwards counts as zero
    public void Record_Duration_LandsInItsBucket(double seconds, int bucket)
    {
        var histogram = new LatencyHistogram([0.001, 0.01, 1]);

        histogram.Record(TimeSpan.FromSeconds(seconds));

        var counts = histogram.Snapshot().Counts;
        Assert.Equal(4, counts.Count);
        Assert.Equal(1, counts[bucket]);
        Assert.Equal(1, counts.Sum());
    }

    [Fact]
    public void Record_ManyThreads_NothingLostSumExact()
    {
        var histogram = new LatencyHistogram(HistogramBuckets.RequestDurationSeconds);

        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                histogram.Record(TimeSpan.FromMilliseconds(2));
            }
        });

        var snapshot = histogram.Snapshot();
        Assert.Equal(80_000, snapshot.Count);
        Assert.Equal(160.0, snapshot.SumSeconds, 6);
    }

    [Fact]
    public void Record_AfterWarmUp_AllocatesNothing()
    {
        var stats = new ListenerStats();
        for (var i = 0; i < 1000; i++)
        {
            stats.RequestCompleted(i, TimeSpan.FromMilliseconds(i % 50));
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            stats.RequestCompleted(i, TimeSpan.FromMilliseconds(i % 50));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
