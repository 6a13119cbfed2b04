using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Forwarding;

public sealed class ErrorTests
{
    [Fact]
    public async Task Forward_NoMatchingRoute_Returns404NoRoute()
    {
        var snapshot = Snapshots.With("1", [Snapshots.Route("only", "backend", new RouteMatchConfig(Uri: new StringMatchConfig(StringMatchKind.Prefix, "/only")))],
            new ClusterConfig("backend", [new EndpointConfig("127.0.0.1", 1)]));
        await using var proxy = await ProxyHarness.StartAsync(snapshot);

        using var response = await proxy.Client.GetAsync("/other");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("no route", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Forward_NoVirtualHostForAuthority_Returns404()
    {
        var snapshot = Snapshots.ToCluster("1", new EndpointConfig("127.0.0.1", 1)) with
        {
            RouteTables = [new RouteTableConfig("rt", [new VirtualHostConfig("x", ["x.example.com"], [Snapshots.Route("r", "backend")])])],
        };
        await using var proxy = await ProxyHarness.StartAsync(snapshot);

        using var response = await proxy.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Forward_ClusterWithoutEndpoints_Returns503NoHealthyUpstream()
    {
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1"));

        using var response = await proxy.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("no healthy upstream", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Forward_UpstreamRefusesConnection_Returns503ConnectError()
    {
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", new EndpointConfig("127.0.0.1", port)));

        using var response = await proxy.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.StartsWith("upstream connect error", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forward_RouteTimeoutElapses_Returns504AndCancelsUpstream()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstreamCanceled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            c.RequestAborted.Register(() => upstreamCanceled.TrySetResult());
            arrived.SetResult();
            await Task.Delay(Timeout.Infinite, c.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
        });
        var time = new ManualTimeProvider();
        var snapshot = Snapshots.With("1", [new RouteConfig("slow", [], [new WeightedClusterConfig("backend", 1)], Timeout: TimeSpan.FromSeconds(3))],
            new ClusterConfig("backend", [backend.Endpoint]));
        await using var proxy = await ProxyHarness.StartAsync(snapshot, time: time);

        var pending = proxy.Client.GetAsync("/");
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(3) - TimeSpan.FromMilliseconds(1));
        // A millisecond before the deadline its timer is still armed, read at once (the 504 it would
        // cause travels over sockets and could arrive after any check of the response).
        Assert.Contains(TimeSpan.FromMilliseconds(1), time.PendingDelays());
        time.Advance(TimeSpan.FromMilliseconds(1));
        using var response = await pending.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("upstream request timeout", await response.Content.ReadAsStringAsync());
        await upstreamCanceled.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Forward_UpstreamDiesMidResponse_ClientSeesTruncation(bool withContentLength)
    {
        // The upstream dies only once the client has the headers: dying earlier races the client's
        // read of them against the reset of its connection, which may discard them unread.
        var clientHasHeaders = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            if (withContentLength)
            {
                c.Response.ContentLength = 100_000;
            }

            await c.Response.Body.WriteAsync(new byte[10_000]);
            await c.Response.Body.FlushAsync();
            await clientHasHeaders.Task;
            c.Abort();
        });
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));

        using var response = await proxy.Client.GetAsync("/", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        clientHasHeaders.SetResult();
        var read = response.Content.ReadAsByteArrayAsync();

        var error = await Record.ExceptionAsync(() => read.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(error is HttpRequestException or IOException, $"expected a transport error, got {error?.GetType().Name ?? "a complete body"}");
    }

    [Fact]
    public async Task Forward_ClientDisconnects_CancelsUpstreamRequest()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstreamCanceled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            c.RequestAborted.Register(() => upstreamCanceled.TrySetResult());
            arrived.SetResult();
            await Task.Delay(Timeout.Infinite, c.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
        });
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var clientGone = new CancellationTokenSource();

        var pending = proxy.Client.GetAsync("/", clientGone.Token);
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await clientGone.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        await upstreamCanceled.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
