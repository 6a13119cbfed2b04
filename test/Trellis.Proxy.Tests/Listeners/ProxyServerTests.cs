using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Listeners;

public sealed class ProxyServerTests
{
    private static ProxySnapshot TwoRoutes(string version, string routedPrefix, TestBackend a, TestBackend b) => Snapshots.With(
        version,
        [
            Snapshots.Route("to-b", "b", new RouteMatchConfig(Uri: new StringMatchConfig(StringMatchKind.Prefix, routedPrefix))),
            Snapshots.Route("default", "a"),
        ],
        new ClusterConfig("a", [a.Endpoint]),
        new ClusterConfig("b", [b.Endpoint]));

    [Fact]
    public async Task ApplyAsync_InvalidSnapshot_IsRejectedAndOldRoutesStillServe()
    {
        await using var a = await TestBackend.StartNamedAsync("a");
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", a.Endpoint));
        var invalid = Snapshots.With("2", [Snapshots.Route("r", "missing")], new ClusterConfig("other", [a.Endpoint]))
            with
        { Listeners = [Snapshots.Listener("in"), Snapshots.Listener("second")] };

        var result = await proxy.Server.ApplyAsync(invalid);

        Assert.False(result.Accepted);
        Assert.Contains(result.Errors, e => e.Contains("cluster 'missing' not found", StringComparison.Ordinal));
        Assert.Equal("1", proxy.Server.Current.Version);
        Assert.Single(proxy.Server.BoundEndpoints);
        Assert.Equal("a", await proxy.Client.GetStringAsync("/"));
    }

    [Fact]
    public async Task ApplyAsync_PortTakenByAnotherProcess_IsRejectedAndChangesNothing()
    {
        await using var a = await TestBackend.StartNamedAsync("a");
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", a.Endpoint));
        var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        try
        {
            var takenPort = ((IPEndPoint)squatter.LocalEndpoint).Port;
            var next = Snapshots.ToCluster("2", a.Endpoint) with
            {
                Listeners = [Snapshots.Listener("in"), Snapshots.Listener("second", port: takenPort)],
            };

            var result = await proxy.Server.ApplyAsync(next);

            Assert.False(result.Accepted);
            Assert.Contains(result.Errors, e => e.StartsWith("listeners[1]: cannot listen", StringComparison.Ordinal));
            Assert.Equal("1", proxy.Server.Current.Version);
            Assert.Equal("a", await proxy.Client.GetStringAsync("/"));
        }
        finally
        {
            squatter.Stop();
        }
    }

    [Fact]
    public async Task ApplyAsync_SwapWhileServing_NewRouteTakesEffectWithoutFailedRequests()
    {
        await using var a = await TestBackend.StartNamedAsync("a");
        await using var b = await TestBackend.StartNamedAsync("b");
        await using var proxy = await ProxyHarness.StartAsync(TwoRoutes("1", "/never", a, b));
        var port = proxy.EndPoint.Port;
        using var stop = new CancellationTokenSource();
        var failures = 0;
        var served = 0;
        var load = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var response = await proxy.Client.GetAsync("/swap");
                var body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode != HttpStatusCode.OK || body is not ("a" or "b"))
                {
                    Interlocked.Increment(ref failures);
                }

                Interlocked.Increment(ref served);
            }
        })).ToArray();

        for (var version = 2; version <= 10; version++)
        {
            var result = await proxy.Server.ApplyAsync(TwoRoutes(version.ToString(System.Globalization.CultureInfo.InvariantCulture), version % 2 == 0 ? "/swap" : "/never", a, b));
            Assert.True(result.Accepted);
            await Task.Delay(20);
        }

        await stop.CancelAsync();
        await Task.WhenAll(load);

        Assert.Equal(0, failures);
        Assert.True(served > 20, $"only {served} requests ran during the swaps");
        Assert.Equal(port, proxy.EndPoint.Port);
        Assert.Equal("b", await proxy.Client.GetStringAsync("/swap")); // the last version, 10, routes /swap to b
    }

    [Fact]
    public async Task ApplyAsync_LastSnapshotRoutesElsewhere_ServesNewRoute()
    {
        await using var a = await TestBackend.StartNamedAsync("a");
        await using var b = await TestBackend.StartNamedAsync("b");
        await using var proxy = await ProxyHarness.StartAsync(TwoRoutes("1", "/never", a, b));
        Assert.Equal("a", await proxy.Client.GetStringAsync("/x"));

        Assert.True((await proxy.Server.ApplyAsync(TwoRoutes("2", "/x", a, b))).Accepted);

        Assert.Equal("b", await proxy.Client.GetStringAsync("/x"));
        Assert.Equal("2", proxy.Server.Current.Version);
    }

    [Fact]
    public async Task ApplyAsync_InFlightRequestAcrossSwap_FinishesOnUnchangedListener()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var slow = await TestBackend.StartAsync(async c =>
        {
            arrived.TrySetResult();
            await release.Task;
            await c.Response.WriteAsync("slow done");
        });
        await using var other = await TestBackend.StartNamedAsync("other");
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", slow.Endpoint));

        var pending = proxy.Client.GetStringAsync("/");
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True((await proxy.Server.ApplyAsync(Snapshots.ToCluster("2", other.Endpoint))).Accepted);
        release.SetResult();

        Assert.Equal("slow done", await pending.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("other", await proxy.Client.GetStringAsync("/"));
    }

    [Fact]
    public async Task ApplyAsync_ListenersAddedAndRemoved_StartsNewStopsGoneKeepsUnchanged()
    {
        await using var a = await TestBackend.StartNamedAsync("a");
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", a.Endpoint));
        var firstPort = proxy.EndPoint.Port;
        var two = Snapshots.ToCluster("2", a.Endpoint) with { Listeners = [Snapshots.Listener("in"), Snapshots.Listener("extra")] };

        Assert.True((await proxy.Server.ApplyAsync(two)).Accepted);
        var extraPort = proxy.Server.BoundEndpoints[1].Port;
        using var direct = new HttpClient();
        Assert.Equal(firstPort, proxy.Server.BoundEndpoints[0].Port);
        Assert.Equal("a", await direct.GetStringAsync($"http://127.0.0.1:{extraPort}/"));

        var back = Snapshots.ToCluster("3", a.Endpoint) with { Listeners = [Snapshots.Listener("extra")] };
        Assert.True((await proxy.Server.ApplyAsync(back)).Accepted);

        Assert.Equal([extraPort], proxy.Server.BoundEndpoints.Select(e => e.Port));
        await WaitUntilRefusedAsync(firstPort);
        Assert.Equal("a", await direct.GetStringAsync($"http://127.0.0.1:{extraPort}/"));
    }

    [Fact]
    public async Task Requests_CountedPerListenerAndAccessLoggedAtDebug()
    {
        await using var a = await TestBackend.StartNamedAsync("a");
        using var logs = new CapturingLoggerProvider();
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", a.Endpoint), loggerFactory: logs);

        await proxy.Client.GetStringAsync("/one");
        await proxy.Client.GetStringAsync("/two");

        Assert.Equal(2, proxy.Server.GetRequestCount("in"));
        var access = logs.Entries.Where(e => e.Id.Id == 300).ToList();
        Assert.Equal(2, access.Count);
        Assert.All(access, e => Assert.Equal(LogLevel.Debug, e.Level));
        Assert.Contains(access, e => e.Message.Contains("\"GET 127.0.0.1", StringComparison.Ordinal) && e.Message.Contains("/two\" 200", StringComparison.Ordinal));
    }

    private static async Task WaitUntilRefusedAsync(int port)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using var tcp = new TcpClient();
            try
            {
                await tcp.ConnectAsync(IPAddress.Loopback, port);
            }
            catch (SocketException)
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"port {port} still accepts connections");
    }
}
