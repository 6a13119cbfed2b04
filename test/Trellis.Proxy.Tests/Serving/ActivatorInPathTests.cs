using System.Net;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Serving;

/// <summary>
/// The activator in the path (<see cref="ActivationConfig.EndpointCapacity"/>): each instance gets at
/// most containerConcurrency requests from the proxy, the rest wait at the proxy and go to whichever
/// instance frees a slot first, instead of queueing behind a busy instance.
/// </summary>
public sealed class ActivatorInPathTests
{
    private static ProxySnapshot InPath(string version, int capacity, params EndpointConfig[] endpoints) =>
        Snapshots.With(version, [Snapshots.Route("default", "hello")],
            new ClusterConfig("hello", endpoints, Activation: new ActivationConfig(100, TimeSpan.FromSeconds(30), EndpointCapacity: capacity)));

    [Fact]
    public async Task Forward_EveryInstanceAtCapacity_RequestWaitsAtProxyUntilASlotFrees()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inFlight = 0;
        var maxInFlight = 0;
        await using var instance = await TestBackend.StartAsync(async c =>
        {
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref maxInFlight, now);
            await release.Task;
            Interlocked.Decrement(ref inFlight);
            await c.Response.WriteAsync("done");
        });
        await using var proxy = await ProxyHarness.StartAsync(InPath("1", 2, instance.Endpoint));

        var requests = Enumerable.Range(0, 5).Select(_ => proxy.Client.GetStringAsync("/")).ToArray();
        await Eventually.TrueAsync(() => Volatile.Read(ref inFlight) == 2 && proxy.Server.Waiting("hello") == 3, "two at the instance, three held");
        release.SetResult();
        var bodies = await Task.WhenAll(requests).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.All(bodies, b => Assert.Equal("done", b));
        Assert.Equal(2, maxInFlight);
        Assert.Equal(0, proxy.Server.Waiting("hello"));
    }

    [Fact]
    public async Task Forward_OneInstanceBusy_NextRequestsGoToTheOneWithRoom()
    {
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var busy = await TestBackend.StartAsync(async c =>
        {
            await hold.Task;
            await c.Response.WriteAsync("busy");
        });
        await using var free = await TestBackend.StartAsync(c => c.Response.WriteAsync("free"));
        await using var proxy = await ProxyHarness.StartAsync(InPath("1", 1, busy.Endpoint, free.Endpoint));

        // Fill the busy instance's only slot: requests until one hangs there.
        var pending = new List<Task<string>>();
        for (var i = 0; i < 10 && pending.Count == 0; i++)
        {
            var request = proxy.Client.GetStringAsync("/");
            if (await Task.WhenAny(request, Task.Delay(300)) != request)
            {
                pending.Add(request);
            }
        }

        var held = Assert.Single(pending);
        var next = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => proxy.Client.GetStringAsync("/"))).WaitAsync(TimeSpan.FromSeconds(20));
        hold.SetResult();

        Assert.All(next, b => Assert.Equal("free", b));
        Assert.Equal("busy", await held.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Forward_HeldForASlotPastTheTimeout_Returns503NamingContainerConcurrency()
    {
        var time = new ManualTimeProvider();
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = 0;
        await using var instance = await TestBackend.StartAsync(async c =>
        {
            Interlocked.Increment(ref arrived);
            await hold.Task;
            await c.Response.WriteAsync("done");
        });
        var snapshot = Snapshots.With("1", [Snapshots.Route("default", "hello")],
            new ClusterConfig("hello", [instance.Endpoint], Activation: new ActivationConfig(100, TimeSpan.FromSeconds(10), EndpointCapacity: 1)));
        await using var proxy = await ProxyHarness.StartAsync(snapshot, time: time);
        var first = proxy.Client.GetStringAsync("/");
        await Eventually.TrueAsync(() => Volatile.Read(ref arrived) == 1, "the first request holds the only slot");
        var second = proxy.Client.GetAsync("/");
        await Eventually.TrueAsync(() => proxy.Server.Waiting("hello") == 1, "the second request is held");

        time.Advance(TimeSpan.FromSeconds(10));
        using var response = await second.WaitAsync(TimeSpan.FromSeconds(10));
        hold.SetResult();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("activator: no instance had a free slot (containerConcurrency 1) within 10s for hello", await response.Content.ReadAsStringAsync());
        Assert.Equal("done", await first.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Apply_NegativeEndpointCapacity_RejectedWithPath()
    {
        await using var proxy = await ProxyHarness.StartAsync(InPath("1", 0));

        var result = await proxy.Server.ApplyAsync(InPath("2", -1));

        Assert.False(result.Accepted);
        Assert.Contains(result.Errors, e => e.EndsWith("activation.endpointCapacity: -1 must not be negative", StringComparison.Ordinal));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var seen = Volatile.Read(ref target);
        while (value > seen)
        {
            var previous = Interlocked.CompareExchange(ref target, value, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }
}
