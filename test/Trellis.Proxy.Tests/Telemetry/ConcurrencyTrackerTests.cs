using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Tests.Telemetry;

public sealed class ConcurrencyTrackerTests
{
    // Events as (µs, +1 start / -1 end), sampled at the given µs; the first interval starts at 0.
    public static TheoryData<string, (long At, int Delta)[], long, double, long> Cases => new()
    {
        { "idle", [], 1_000_000, 0.0, 0 },
        { "one request the whole second", [(0, +1)], 1_000_000, 1.0, 1 },
        { "one request half the second", [(0, +1), (500_000, -1)], 1_000_000, 0.5, 1 },
        { "two overlapping", [(0, +1), (250_000, +1), (750_000, -1), (1_000_000, -1)], 1_000_000, 1.5, 2 },
        { "short burst of ten", [.. Enumerable.Range(0, 10).Select(_ => (100_000L, +1)), .. Enumerable.Range(0, 10).Select(_ => (200_000L, -1))], 1_000_000, 1.0, 10 },
        { "arrives late, still running", [(900_000, +1)], 1_000_000, 0.1, 1 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Sample_Events_TimeWeightedAverage(string name, (long At, int Delta)[] events, long sampleAt, double average, long requests)
    {
        var tracker = new ConcurrencyTracker();
        tracker.Start(0);
        foreach (var (at, delta) in events)
        {
            if (delta > 0)
            {
                tracker.RequestStarted(at);
            }
            else
            {
                tracker.RequestEnded(at);
            }
        }

        var sample = tracker.Sample(sampleAt);

        Assert.True(Math.Abs(average - sample.AverageConcurrency) < 1e-9, $"{name}: expected {average}, got {sample.AverageConcurrency}");
        Assert.Equal(requests, sample.Requests);
    }

    [Fact]
    public void Sample_Consecutive_EachCoversOnlyItsOwnInterval()
    {
        var tracker = new ConcurrencyTracker();
        tracker.Start(0);
        tracker.RequestStarted(0);
        tracker.RequestStarted(0);

        var first = tracker.Sample(1_000_000);
        tracker.RequestEnded(1_500_000);
        var second = tracker.Sample(2_000_000);
        var third = tracker.Sample(4_000_000);

        Assert.Equal((2.0, 2L), first);
        Assert.Equal((1.5, 0L), second);
        Assert.Equal((1.0, 0L), third);
        Assert.Equal(1, tracker.InFlight);
    }

    [Fact]
    public void Change_ClockReadOutOfOrderAcrossThreads_NeverGoesNegative()
    {
        var tracker = new ConcurrencyTracker();
        tracker.Start(1_000);
        tracker.RequestStarted(2_000);
        tracker.RequestEnded(1_500);

        var sample = tracker.Sample(3_000);

        Assert.Equal(0, tracker.InFlight);
        Assert.InRange(sample.AverageConcurrency, 0.0, 1.0);
    }

    [Fact]
    public async Task RequestStartedAndEnded_ManyThreads_CountsEveryRequestAndEndsAtZero()
    {
        var tracker = new ConcurrencyTracker();
        tracker.Start(0);
        long clock = 0;

        await Parallel.ForEachAsync(Enumerable.Range(0, 10_000), new ParallelOptions { MaxDegreeOfParallelism = 16 }, (_, _) =>
        {
            tracker.RequestStarted(Interlocked.Increment(ref clock));
            tracker.RequestEnded(Interlocked.Increment(ref clock));
            return ValueTask.CompletedTask;
        });

        var sample = tracker.Sample(Interlocked.Increment(ref clock));
        Assert.Equal(0, tracker.InFlight);
        Assert.Equal(10_000, sample.Requests);
        Assert.InRange(sample.AverageConcurrency, 0.0, 16.0);
    }
}
