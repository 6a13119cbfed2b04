using System.Collections.Concurrent;
using System.Net;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Serving;

/// <summary>The in-proxy activator: requests to a cluster scaled to zero wait for an endpoint instead of failing.</summary>
public sealed class ActivationTests
{
    private static ProxySnapshot ScaledTo(string version, ActivationConfig activation, params EndpointConfig[] endpoints) =>
        Snapshots.With(version, [Snapshots.Route("default", "hello")], new ClusterConfig("hello", endpoints, Activation: activation));

    private static readonly ActivationConfig Generous = new(QueueCapacity: 100, Timeout: TimeSpan.FromSeconds(30));

    [Fact]
    public async Task Forward_NoEndpoints_HeldRaisesDemandAndNewSnapshotReleasesIt()
    {
        await using var proxy = await ProxyHarness.StartAsync(ScaledTo("1", Generous));
        var demand = new ConcurrentQueue<(string Cluster, int Waiting)>();
        var raised = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        proxy.Server.DemandRaised += (cluster, waiting) =>
        {
            demand.Enqueue((cluster, waiting));
            raised.TrySetResult();
        };

        var pending = proxy.Client.GetAsync("/");
        await raised.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(("hello", 1), Assert.Single(demand));
        Assert.Equal(1, proxy.Server.Waiting("hello"));
        Assert.False(pending.IsCompleted);

        await using var instance = await TestBackend.StartNamedAsync("hello-00001");
        Assert.True((await proxy.Server.ApplyAsync(ScaledTo("2", Generous, instance.Endpoint))).Accepted);
        using var response = await pending.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hello-00001", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, proxy.Server.Waiting("hello"));
    }

    [Fact]
    public async Task Forward_ActivationQueueFull_Returns503NamingCluster()
    {
        await using var proxy = await ProxyHarness.StartAsync(ScaledTo("1", Generous with { QueueCapacity = 1 }));
        var held = proxy.Client.GetAsync("/");
        await Eventually.TrueAsync(() => proxy.Server.Waiting("hello") == 1, "the first request is held");

        using var refused = await proxy.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("activator: queue full for hello", await refused.Content.ReadAsStringAsync());
        Assert.False(held.IsCompleted);
        Assert.Equal(1, proxy.Server.Waiting("hello"));
    }

    [Fact]
    public async Task Forward_NoInstanceWithinTimeout_Returns503WithReason()
    {
        var time = new ManualTimeProvider();
        await using var proxy = await ProxyHarness.StartAsync(ScaledTo("1", Generous with { Timeout = TimeSpan.FromSeconds(10) }), time: time);
        var pending = proxy.Client.GetAsync("/");
        await Eventually.TrueAsync(() => proxy.Server.Waiting("hello") == 1 && time.PendingDelays().Contains(TimeSpan.FromSeconds(10)), "the request is held, its deadline armed");

        // The deadline's timer takes the request out of the queue on the advancing thread, so the count is exact at once.
        time.Advance(TimeSpan.FromSeconds(9.9));
        Assert.Equal(1, proxy.Server.Waiting("hello"));
        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal(0, proxy.Server.Waiting("hello"));
        using var response = await pending.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("activator: no instance became ready within 10s for hello", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, proxy.Server.Waiting("hello"));
    }

    [Fact]
    public async Task DemandRaised_RequestsKeepWaiting_RaisedAgainAtMostOncePerSecond()
    {
        var time = new ManualTimeProvider();
        await using var proxy = await ProxyHarness.StartAsync(ScaledTo("1", Generous), time: time);
        var demand = new ConcurrentQueue<int>();
        proxy.Server.DemandRaised += (_, waiting) => demand.Enqueue(waiting);
        var first = proxy.Client.GetAsync("/");
        await Eventually.TrueAsync(() => demand.Count == 1, "demand is raised at once");
        time.Advance(TimeSpan.FromSeconds(0.5));
        var second = proxy.Client.GetAsync("/");
        await Eventually.TrueAsync(() => proxy.Server.Waiting("hello") == 2, "the second request is held");
        Assert.Single(demand);

        time.Advance(TimeSpan.FromSeconds(0.5));
        Assert.Equal([1, 2], demand);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([1, 2, 2], demand);

        await using var instance = await TestBackend.StartNamedAsync("up");
        Assert.True((await proxy.Server.ApplyAsync(ScaledTo("2", Generous, instance.Endpoint))).Accepted);
        (await first.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        (await second.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(3, demand.Count);
    }

    [Fact]
    public async Task Forward_FiftyConcurrentDuringScaleFromZero_AllSucceedEachSentOnce()
    {
        var served = 0;
        await using var proxy = await ProxyHarness.StartAsync(ScaledTo("1", Generous));

        var requests = Enumerable.Range(0, 50).Select(i => proxy.Client.GetStringAsync($"/r{i}")).ToArray();
        await Eventually.TrueAsync(() => proxy.Server.Waiting("hello") == 50, "all 50 requests are held");
        await using var instance = await TestBackend.StartAsync(c =>
        {
            Interlocked.Increment(ref served);
            return Microsoft.AspNetCore.Http.HttpResponseWritingExtensions.WriteAsync(c.Response, c.Request.Path.Value!);
        });
        Assert.True((await proxy.Server.ApplyAsync(ScaledTo("2", Generous, instance.Endpoint))).Accepted);
        var bodies = await Task.WhenAll(requests).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"/r{i}"), bodies);
        Assert.Equal(50, served);
        Assert.Equal(0, proxy.Server.Waiting("hello"));
    }

    [Fact]
    public async Task Forward_HeldWithBody_BodyArrivesWhole()
    {
        await using var proxy = await ProxyHarness.StartAsync(ScaledTo("1", Generous));
        var payload = new string('x', 200_000);
        var pending = proxy.Client.PostAsync("/", new StringContent(payload));
        await Eventually.TrueAsync(() => proxy.Server.Waiting("hello") == 1, "the request is held");
        await using var instance = await TestBackend.StartAsync(async c =>
        {
            using var reader = new StreamReader(c.Request.Body);
            var body = await reader.ReadToEndAsync();
            await Microsoft.AspNetCore.Http.HttpResponseWritingExtensions.WriteAsync(c.Response, body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        });

        Assert.True((await proxy.Server.ApplyAsync(ScaledTo("2", Generous, instance.Endpoint))).Accepted);
        using var response = await pending.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("200000", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Forward_ActivationClusterWithEndpoints_ForwardsAtOnceWithoutDemand()
    {
        await using var instance = await TestBackend.StartNamedAsync("warm");
        await using var proxy = await ProxyHarness.StartAsync(ScaledTo("1", Generous, instance.Endpoint));
        var raised = 0;
        proxy.Server.DemandRaised += (_, _) => Interlocked.Increment(ref raised);

        Assert.Equal("warm", await proxy.Client.GetStringAsync("/"));
        Assert.Equal(0, raised);
    }

    [Fact]
    public async Task Forward_SnapshotWithoutEndpointsWhileHeld_KeepsWaiting()
    {
        await using var proxy = await ProxyHarness.StartAsync(ScaledTo("1", Generous));
        var pending = proxy.Client.GetAsync("/");
        await Eventually.TrueAsync(() => proxy.Server.Waiting("hello") == 1, "the request is held");

        Assert.True((await proxy.Server.ApplyAsync(ScaledTo("2", Generous))).Accepted);
        Assert.Equal(1, proxy.Server.Waiting("hello"));
        await using var instance = await TestBackend.StartNamedAsync("later");
        Assert.True((await proxy.Server.ApplyAsync(ScaledTo("3", Generous, instance.Endpoint))).Accepted);

        using var response = await pending.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("later", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task DemandRaised_HandlerThrows_RequestStillServed()
    {
        await using var proxy = await ProxyHarness.StartAsync(ScaledTo("1", Generous));
        proxy.Server.DemandRaised += (_, _) => throw new InvalidOperationException("control plane unreachable");
        var pending = proxy.Client.GetAsync("/");
        await Eventually.TrueAsync(() => proxy.Server.Waiting("hello") == 1, "the request is held");
        await using var instance = await TestBackend.StartNamedAsync("ok");

        Assert.True((await proxy.Server.ApplyAsync(ScaledTo("2", Generous, instance.Endpoint))).Accepted);

        using var response = await pending.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData(0, 1, "clusters[0].activation.queueCapacity")]
    [InlineData(1, 0, "clusters[0].activation.timeout")]
    public async Task ApplyAsync_InvalidActivation_RejectedWithPath(int capacity, int timeoutSeconds, string path)
    {
        await using var server = new ProxyServer(new ProxyServerOptions(), Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);

        var result = await server.ApplyAsync(ScaledTo("1", new ActivationConfig(capacity, TimeSpan.FromSeconds(timeoutSeconds))));

        Assert.False(result.Accepted);
        Assert.Contains(result.Errors, e => e.StartsWith(path, StringComparison.Ordinal));
    }
}
