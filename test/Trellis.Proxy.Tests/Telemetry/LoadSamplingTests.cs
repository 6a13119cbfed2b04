using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Telemetry;

public sealed class LoadSamplingTests
{
    [Fact]
    public async Task SampleLoad_RequestsOverlapping_TimeWeightedAverageAndCount()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = 0;
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            Interlocked.Increment(ref arrived);
            await gate.Task;
            await c.Response.WriteAsync("ok");
        });
        var time = new ManualTimeProvider();
        var snapshot = Snapshots.ToCluster("1", backend.Endpoint);
        snapshot = snapshot with { Listeners = [Snapshots.Listener() with { Kind = ListenerKind.Inbound, Workload = "hello-00001-a" }] };
        await using var proxy = await ProxyHarness.StartAsync(snapshot, time: time);
        var origin = time.GetUtcNow();

        // One request for 4 s, a second for the last 2 s: (1×2 + 2×2) / 4 = 1.5.
        var first = proxy.Client.GetAsync("/");
        await Eventually.TrueAsync(() => Volatile.Read(ref arrived) == 1, "the first request is in flight");
        time.Advance(TimeSpan.FromSeconds(2));
        var second = proxy.Client.GetAsync("/");
        await Eventually.TrueAsync(() => Volatile.Read(ref arrived) == 2, "the second request is in flight");
        time.Advance(TimeSpan.FromSeconds(2));
        var load = Assert.Single(proxy.Server.SampleLoad());

        Assert.Equal(new ListenerLoad("in", "hello-00001-a", 1.5, 2, origin, origin.AddSeconds(4)), load);

        gate.SetResult();
        (await first).Dispose();
        (await second).Dispose();
        await Eventually.TrueAsync(() => proxy.Server.GetRequestCount("in") == 2, "both requests are counted");
        time.Advance(TimeSpan.FromSeconds(1));
        var idle = Assert.Single(proxy.Server.SampleLoad());
        Assert.Equal(new ListenerLoad("in", "hello-00001-a", 0.0, 0, origin.AddSeconds(4), origin.AddSeconds(5)), idle);
    }

    [Fact]
    public async Task SampleLoad_NoListeners_Empty()
    {
        await using var server = new ProxyServer(new ProxyServerOptions(), Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);

        Assert.Empty(server.SampleLoad());
    }
}
