using Trellis.Api.Snapshots;
using Trellis.Proxy.Resilience;

namespace Trellis.Proxy.Tests.Resilience;

public sealed class ClusterCircuitBreakerTests
{
    [Theory]
    [InlineData("requests")]
    [InlineData("pending")]
    [InlineData("connections")]
    [InlineData("retries")]
    public void TryStart_AtTheLimit_Overflows(string counter)
    {
        var breaker = ClusterCircuitBreaker.Create(
            new ConnectionPoolConfig(MaxConnections: 2, MaxPendingRequests: 2, MaxRequests: 2, MaxRetries: 2), null);
        var (take, release, read) = Counter(breaker, counter);

        Assert.True(take());
        Assert.True(take());
        Assert.False(take());
        Assert.Equal(2, read());

        release();
        Assert.True(take());
        Assert.False(take());
    }

    [Theory]
    [InlineData("requests")]
    [InlineData("pending")]
    [InlineData("connections")]
    [InlineData("retries")]
    public void End_WithoutStart_NeverGoesNegative(string counter)
    {
        var breaker = ClusterCircuitBreaker.Create(new ConnectionPoolConfig(1, 1, 1, 1), null);
        var (take, release, read) = Counter(breaker, counter);

        release();
        release();

        Assert.Equal(0, read());
        Assert.True(take());
        Assert.False(take());
    }

    [Fact]
    public void TryStart_NullThresholds_UnlimitedButCounted()
    {
        var breaker = ClusterCircuitBreaker.Create(new ConnectionPoolConfig(), null);

        for (var i = 0; i < 10_000; i++)
        {
            Assert.True(breaker.TryStartRequest());
            Assert.True(breaker.TryStartPending());
            Assert.True(breaker.TryOpenConnection());
        }

        Assert.Equal(10_000, breaker.ActiveRequests);
        Assert.Equal(10_000, breaker.PendingRequests);
        Assert.Equal(10_000, breaker.ActiveConnections);
    }

    // Envoy's retry budget: max(percent × (active + pending), floor), truncated.
    [Theory]
    [InlineData(0, 0, 20.0, 3, 3)]
    [InlineData(10, 0, 20.0, 3, 3)]
    [InlineData(15, 0, 20.0, 3, 3)]
    [InlineData(20, 0, 20.0, 3, 4)]
    [InlineData(100, 0, 20.0, 3, 20)]
    [InlineData(80, 20, 20.0, 3, 20)]
    [InlineData(99, 0, 20.0, 3, 19)]
    [InlineData(100, 0, 50.0, 3, 50)]
    [InlineData(100, 0, 0.0, 0, 0)]
    [InlineData(2, 0, 100.0, 0, 2)]
    public void RetryLimit_Budget_PercentOfActiveWithAFloor(int active, int pending, double percent, int floor, int expected)
    {
        var breaker = ClusterCircuitBreaker.Create(new ConnectionPoolConfig(RetryBudgetPercent: percent, RetryBudgetMinConcurrency: floor), null);
        for (var i = 0; i < active; i++)
        {
            breaker.TryStartRequest();
        }

        for (var i = 0; i < pending; i++)
        {
            breaker.TryStartPending();
        }

        Assert.Equal(expected, breaker.RetryLimit);
    }

    [Fact]
    public void TryStartRetry_Budget_FollowsTheLoad()
    {
        var breaker = ClusterCircuitBreaker.Create(null, null);
        Assert.True(breaker.TryStartRetry());
        Assert.True(breaker.TryStartRetry());
        Assert.True(breaker.TryStartRetry());
        Assert.False(breaker.TryStartRetry()); // the floor of 3 with nothing in flight

        for (var i = 0; i < 20; i++)
        {
            breaker.TryStartRequest();
        }

        Assert.True(breaker.TryStartRetry()); // 20 % of 20 = 4
        Assert.False(breaker.TryStartRetry());
    }

    [Fact]
    public void RetryLimit_FixedMaxRetries_ReplacesTheBudget()
    {
        var breaker = ClusterCircuitBreaker.Create(new ConnectionPoolConfig(MaxRetries: 1), null);
        for (var i = 0; i < 100; i++)
        {
            breaker.TryStartRequest();
        }

        Assert.Equal(1, breaker.RetryLimit);
    }

    [Fact]
    public void Create_WithPrevious_KeepsCountsAndAppliesNewLimits()
    {
        var first = ClusterCircuitBreaker.Create(new ConnectionPoolConfig(MaxRequests: 5), null);
        for (var i = 0; i < 3; i++)
        {
            first.TryStartRequest();
        }

        var second = ClusterCircuitBreaker.Create(new ConnectionPoolConfig(MaxRequests: 3), first);

        Assert.Same(first, second);
        Assert.Equal(3, second.ActiveRequests);
        Assert.False(second.TryStartRequest());
    }

    [Fact]
    public void TryStartRequest_Concurrent_NeverPassesTheLimit()
    {
        var breaker = ClusterCircuitBreaker.Create(new ConnectionPoolConfig(MaxRequests: 8), null);
        var peak = 0;
        var overflows = 0;

        Parallel.For(0, 200_000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            if (!breaker.TryStartRequest())
            {
                Interlocked.Increment(ref overflows);
                return;
            }

            var now = breaker.ActiveRequests;
            InterlockedMax(ref peak, now);
            breaker.EndRequest();
        });

        Assert.InRange(peak, 1, 8);
        Assert.Equal(0, breaker.ActiveRequests);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private static (Func<bool> Take, Action Release, Func<int> Read) Counter(ClusterCircuitBreaker breaker, string name) => name switch
    {
        "requests" => (breaker.TryStartRequest, breaker.EndRequest, () => breaker.ActiveRequests),
        "pending" => (breaker.TryStartPending, breaker.EndPending, () => breaker.PendingRequests),
        "connections" => (breaker.TryOpenConnection, breaker.ConnectionClosed, () => breaker.ActiveConnections),
        "retries" => (breaker.TryStartRetry, breaker.EndRetry, () => breaker.ActiveRetries),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };
}
