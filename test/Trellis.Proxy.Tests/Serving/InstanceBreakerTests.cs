using Trellis.Proxy.Serving;

namespace Trellis.Proxy.Tests.Serving;

public sealed class InstanceBreakerTests
{
    [Fact]
    public async Task AcquireAsync_FreeSlot_AdmitsAtOnce()
    {
        var breaker = new InstanceBreaker(capacity: 2, queueDepth: 0);

        var first = breaker.AcquireAsync(CancellationToken.None);
        var second = breaker.AcquireAsync(CancellationToken.None);

        Assert.True(first.IsCompletedSuccessfully);
        Assert.Equal(Admission.Admitted, await first);
        Assert.Equal(Admission.Admitted, await second);
        Assert.Equal(2, breaker.InFlight);
    }

    [Fact]
    public async Task AcquireAsync_SlotsAndQueueTaken_RefusesAtOnce()
    {
        var breaker = new InstanceBreaker(capacity: 1, queueDepth: 1);
        Assert.Equal(Admission.Admitted, await breaker.AcquireAsync(CancellationToken.None));
        var queued = breaker.AcquireAsync(CancellationToken.None);

        var refused = breaker.AcquireAsync(CancellationToken.None);

        Assert.False(queued.IsCompleted);
        Assert.True(refused.IsCompleted);
        Assert.Equal(Admission.QueueFull, await refused);
        Assert.Equal(1, breaker.Queued);
    }

    [Fact]
    public async Task Release_WithWaiters_HandsSlotsOverInArrivalOrder()
    {
        var breaker = new InstanceBreaker(capacity: 1, queueDepth: 3);
        Assert.Equal(Admission.Admitted, await breaker.AcquireAsync(CancellationToken.None));
        var waiters = Enumerable.Range(0, 3).Select(_ => breaker.AcquireAsync(CancellationToken.None).AsTask()).ToArray();

        for (var i = 0; i < waiters.Length; i++)
        {
            breaker.Release();
            Assert.Equal(Admission.Admitted, await waiters[i].WaitAsync(TimeSpan.FromSeconds(5)));
            Assert.All(waiters[(i + 1)..], w => Assert.False(w.IsCompleted));
            Assert.Equal(1, breaker.InFlight);
        }

        breaker.Release();
        Assert.Equal(0, breaker.InFlight);
        Assert.Equal(0, breaker.Queued);
    }

    [Fact]
    public async Task AcquireAsync_CanceledWhileQueued_LeavesQueueAndFreesItsPlace()
    {
        var breaker = new InstanceBreaker(capacity: 1, queueDepth: 1);
        Assert.Equal(Admission.Admitted, await breaker.AcquireAsync(CancellationToken.None));
        using var gone = new CancellationTokenSource();
        var queued = breaker.AcquireAsync(gone.Token);

        await gone.CancelAsync();

        Assert.Equal(Admission.Canceled, await queued);
        Assert.Equal(0, breaker.Queued);
        var next = breaker.AcquireAsync(CancellationToken.None);
        Assert.False(next.IsCompleted);
        breaker.Release();
        Assert.Equal(Admission.Admitted, await next.AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(1, breaker.InFlight);
    }

    [Fact]
    public async Task AcquireAndRelease_ManyThreads_NeverExceedCapacityOrLoseSlots()
    {
        var breaker = new InstanceBreaker(capacity: 4, queueDepth: 1000);
        var running = 0;
        var peak = 0;

        await Parallel.ForEachAsync(Enumerable.Range(0, 2000), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (_, _) =>
        {
            Assert.Equal(Admission.Admitted, await breaker.AcquireAsync(CancellationToken.None));
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref peak, now);
            await Task.Yield();
            Interlocked.Decrement(ref running);
            breaker.Release();
        });

        Assert.InRange(peak, 1, 4);
        Assert.Equal(0, breaker.InFlight);
        Assert.Equal(0, breaker.Queued);
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
}
