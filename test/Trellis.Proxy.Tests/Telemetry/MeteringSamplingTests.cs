using System.Net;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Telemetry;

/// <summary>What a proxy meters: completed requests by duration per listener, and cold starts per cluster.</summary>
public sealed class MeteringSamplingTests
{
    [Fact]
    public async Task SampleDurations_RequestsCompleted_CountsSinceLastSampleWithTheirDurations()
    {
        var time = new ManualTimeProvider();
        await using var backend = await TestBackend.StartAsync(c =>
        {
            time.Advance(TimeSpan.FromMilliseconds(30)); // each request "takes" 30 ms on the proxy's clock
            return c.Response.WriteAsync("ok");
        });
        var snapshot = Snapshots.ToCluster("1", backend.Endpoint);
        snapshot = snapshot with { Listeners = [Snapshots.Listener() with { Kind = ListenerKind.Inbound, Workload = "hello-00001-a" }] };
        await using var proxy = await ProxyHarness.StartAsync(snapshot, time: time);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("ok", await proxy.Client.GetStringAsync("/"));
        }

        await Eventually.TrueAsync(() => proxy.Server.GetRequestCount("in") == 3, "three requests counted");
        var first = Assert.Single(proxy.Server.SampleDurations());
        var second = Assert.Single(proxy.Server.SampleDurations());

        Assert.Equal(("in", "hello-00001-a"), (first.Listener, first.Workload));
        Assert.Equal(3, first.Durations.Count);
        Assert.Equal(0.09, first.Durations.SumSeconds, 6);
        Assert.Equal(3, first.Durations.Counts[6]); // (0.025, 0.05]
        Assert.Equal(0, second.Durations.Count);
    }

    [Fact]
    public async Task ColdStarts_RequestHeldUntilAnInstanceIsReady_CountedWithTimeToFirstByte()
    {
        var time = new ManualTimeProvider();
        var activation = new ActivationConfig(QueueCapacity: 10, Timeout: TimeSpan.FromSeconds(30));
        ProxySnapshot ScaledTo(string version, params EndpointConfig[] endpoints) =>
            Snapshots.With(version, [Snapshots.Route("default", "hello")], new ClusterConfig("hello", endpoints, Activation: activation));
        await using var proxy = await ProxyHarness.StartAsync(ScaledTo("1"), time: time);

        var pending = proxy.Client.GetAsync("/");
        await Eventually.TrueAsync(() => proxy.Server.Waiting("hello") == 1, "the request waits in the activator");
        time.Advance(TimeSpan.FromMilliseconds(700)); // the instance takes 0.7 s to start
        await using var instance = await TestBackend.StartNamedAsync("hello-00001");
        Assert.True((await proxy.Server.ApplyAsync(ScaledTo("2", instance.Endpoint))).Accepted);
        using var response = await pending.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // A warm request afterwards is not a cold start.
        Assert.Equal("hello-00001", await proxy.Client.GetStringAsync("/"));

        var cold = Assert.Single(proxy.Server.ColdStarts());
        Assert.Equal("hello", cold.Cluster);
        Assert.Equal(1, cold.Durations.Count);
        Assert.Equal(0.7, cold.Durations.SumSeconds, 6);
        Assert.Equal(1, cold.Durations.Counts[4]); // (0.5, 1]
    }

    [Fact]
    public async Task ColdStarts_ClusterWithEndpoints_None()
    {
        await using var instance = await TestBackend.StartNamedAsync("warm");
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.With("1", [Snapshots.Route("default", "hello")],
            new ClusterConfig("hello", [instance.Endpoint], Activation: new ActivationConfig(10, TimeSpan.FromSeconds(30)))));

        Assert.Equal("warm", await proxy.Client.GetStringAsync("/"));

        Assert.Empty(proxy.Server.ColdStarts());
    }
}
