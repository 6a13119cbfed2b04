using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Tcp;

/// <summary>The TCP relay through a real <see cref="ProxyServer"/> and real sockets: routing, half-close, backpressure, failures, timeouts, metrics.</summary>
public sealed class TcpProxyTests
{
    internal static ProxySnapshot Snapshot(TcpProxyConfig tcp, params ClusterConfig[] clusters) => new(
        "v1",
        [new ListenerConfig("tcp", "127.0.0.1", 0, ListenerKind.Outbound, "", "client-1",
            Peer: new WorkloadMetadata("client", "default", new Dictionary<string, string> { ["app"] = "client" }), Tcp: tcp)],
        [],
        clusters);

    private static ClusterConfig Cluster(string name, int port, ConnectionPoolConfig? pool = null, string version = "v1") =>
        new(name, [new EndpointConfig("127.0.0.1", port, new Dictionary<string, string> { ["app"] = "echo", ["version"] = version }, "echo-" + version, "default")],
            ConnectionPool: pool, Service: new ServiceMetadata("echo.default.svc.cluster.local", "echo", "default"));

    internal static TcpProxyConfig To(params (string Cluster, int Weight)[] clusters) =>
        new([new TcpRouteConfig("r", [], clusters.Select(c => new WeightedClusterConfig(c.Cluster, c.Weight)).ToList())]);

    internal static async Task<ProxyServer> StartAsync(ProxySnapshot snapshot, ProxyServerOptions? options = null, TimeProvider? time = null)
    {
        var server = new ProxyServer(options ?? new ProxyServerOptions(), NullLoggerFactory.Instance, time);
        var result = await server.ApplyAsync(snapshot);
        Assert.True(result.Accepted, string.Join("; ", result.Errors));
        return server;
    }

    private static async Task<Socket> ConnectAsync(ProxyServer server)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server.BoundEndpoints[0]);
        return socket;
    }

    /// <summary>Sends <paramref name="request"/>, half-closes, and reads the answer to the end (nothing when the proxy closes at once:
    /// with the request unread that is a reset rather than a FIN).</summary>
    internal static async Task<string> ExchangeAsync(ProxyServer server, string request)
    {
        using var socket = await ConnectAsync(server);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None, limit.Token);
        socket.Shutdown(SocketShutdown.Send);
        return Encoding.ASCII.GetString(await ReadOrResetAsync(socket, limit.Token));
    }

    [Fact]
    public async Task Relay_ClientHalfCloses_AnswerStillArrives()
    {
        await using var backend = new TcpBackend("a");
        await using var server = await StartAsync(Snapshot(To(("a", 100)), Cluster("a", backend.Port)));

        Assert.Equal("a:hello", await ExchangeAsync(server, "hello"));
    }

    [Fact]
    public async Task Relay_LargeStreamBothWays_EveryByteInOrder()
    {
        await using var backend = new TcpBackend("a");
        await using var server = await StartAsync(Snapshot(To(("a", 100)), Cluster("a", backend.Port)));
        var payload = string.Concat(Enumerable.Range(0, 200_000).Select(i => (char)('a' + (i % 26))));

        Assert.Equal("a:" + payload, await ExchangeAsync(server, payload));
    }

    [Fact]
    public async Task Route_Weights80To20_ConnectionsSplitByWeight()
    {
        await using var a = new TcpBackend("a");
        await using var b = new TcpBackend("b");
        var draws = 0;
        // Draws 0..99 in turn: exactly the weights' shares over 100 connections.
        var options = new ProxyServerOptions { Random = n => Interlocked.Increment(ref draws) % n };
        await using var server = await StartAsync(Snapshot(To(("a", 80), ("b", 20)), Cluster("a", a.Port), Cluster("b", b.Port, version: "v2")), options);

        var answers = new List<string>();
        for (var i = 0; i < 100; i++)
        {
            answers.Add(await ExchangeAsync(server, "x"));
        }

        Assert.Equal(80, answers.Count(x => x == "a:x"));
        Assert.Equal(20, answers.Count(x => x == "b:x"));
    }

    [Fact]
    public async Task Connect_UpstreamRefuses_ClientClosedAndCountedAsUF()
    {
        int closedPort;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            closedPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        await using var server = await StartAsync(Snapshot(To(("a", 100)), Cluster("a", closedPort)));

        Assert.Equal("", await ExchangeAsync(server, "hello"));
        var metrics = server.PrometheusMetrics();
        Assert.Contains("istio_tcp_connections_opened_total{reporter=\"source\",source_workload=\"client\"", metrics, StringComparison.Ordinal);
        var closed = metrics.Split('\n').Single(l => l.StartsWith("istio_tcp_connections_closed_total{", StringComparison.Ordinal));
        Assert.Contains("response_flags=\"UF\"", closed, StringComparison.Ordinal);
        Assert.EndsWith(" 1", closed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_RelayedConnection_IstioTcpFamiliesWithPeerLabels()
    {
        await using var backend = new TcpBackend("a");
        await using var server = await StartAsync(Snapshot(To(("a", 100)), Cluster("a", backend.Port)));

        Assert.Equal("a:hello", await ExchangeAsync(server, "hello"));

        // The series exists from the connection's open (at 0): wait for the close itself to be counted.
        await Eventually.TrueAsync(
            () => server.PrometheusMetrics().Split('\n').Any(l => l.StartsWith("istio_tcp_connections_closed_total{", StringComparison.Ordinal) && l.EndsWith(" 1", StringComparison.Ordinal)),
            "the close is counted");
        var lines = server.PrometheusMetrics().Split('\n');
        string Sample(string family) => lines.Single(l => l.StartsWith(family + "{", StringComparison.Ordinal));
        const string Labels = "reporter=\"source\",source_workload=\"client\",source_canonical_service=\"client\",source_canonical_revision=\"latest\","
            + "source_workload_namespace=\"default\",source_principal=\"unknown\",source_app=\"client\",source_version=\"unknown\",source_cluster=\"Kubernetes\","
            + "destination_workload=\"echo-v1\",destination_workload_namespace=\"default\",destination_principal=\"unknown\",destination_app=\"echo\","
            + "destination_version=\"v1\",destination_service=\"echo.default.svc.cluster.local\",destination_canonical_service=\"echo\","
            + "destination_canonical_revision=\"v1\",destination_service_name=\"echo\",destination_service_namespace=\"default\",destination_cluster=\"Kubernetes\","
            + "request_protocol=\"tcp\",response_flags=\"-\",connection_security_policy=\"unknown\"";
        Assert.Equal($"istio_tcp_received_bytes_total{{{Labels}}} 5", Sample("istio_tcp_received_bytes_total"));
        Assert.Equal($"istio_tcp_sent_bytes_total{{{Labels}}} 7", Sample("istio_tcp_sent_bytes_total"));
        Assert.Equal($"istio_tcp_connections_opened_total{{{Labels}}} 1", Sample("istio_tcp_connections_opened_total"));
        Assert.Equal($"istio_tcp_connections_closed_total{{{Labels}}} 1", Sample("istio_tcp_connections_closed_total"));
    }

    [Fact]
    public async Task Relay_UpstreamDoesNotRead_ClientIsHeldBackThenEverythingArrives()
    {
        var reading = new TaskCompletionSource();
        var got = new TaskCompletionSource<long>();
        await using var backend = new TcpBackend("slow", async (socket, token) =>
        {
            await reading.Task.WaitAsync(token);
            got.SetResult((await TcpBackend.ReadToEndAsync(socket, token)).LongLength);
        });
        await using var server = await StartAsync(Snapshot(To(("slow", 100)), Cluster("slow", backend.Port)));
        using var client = await ConnectAsync(server);
        client.Blocking = false;

        // Send until the kernel refuses more for a while: with backpressure that happens after the socket buffers
        // on the way (and the relay's one buffer) are full, not after the proxy has read everything into memory.
        var chunk = new byte[64 * 1024];
        long sent = 0;
        var refusedSince = DateTime.UtcNow;
        while (DateTime.UtcNow - refusedSince < TimeSpan.FromMilliseconds(500) && sent < 256L * 1024 * 1024)
        {
            var n = client.Send(chunk, 0, chunk.Length, SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock)
            {
                await Task.Delay(20);
                continue;
            }

            Assert.Equal(SocketError.Success, error);
            sent += n;
            refusedSince = DateTime.UtcNow;
        }

        Assert.True(sent < 64L * 1024 * 1024, $"the proxy took {sent} bytes from the client while the upstream read nothing");
        client.Blocking = true;
        reading.SetResult();
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal(sent, await got.Task.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Relay_IdleForTheIdleTimeout_BothSidesClosed()
    {
        var time = new ManualTimeProvider();
        var upstreamClosed = new TaskCompletionSource<int>();
        await using var backend = new TcpBackend("idle", async (socket, token) => upstreamClosed.SetResult((await TcpBackend.ReadToEndAsync(socket, token)).Length));
        await using var server = await StartAsync(
            Snapshot(To(("idle", 100)), Cluster("idle", backend.Port, new ConnectionPoolConfig(IdleTimeout: TimeSpan.FromSeconds(30)))), time: time);
        // No byte is sent: a byte still in flight when the clock moves would either be cut by the timeout or restart it.
        using var client = await ConnectAsync(server);
        await Eventually.TrueAsync(() => backend.Connections == 1 && time.PendingDelays().Contains(TimeSpan.FromSeconds(30)), "the idle timer runs");

        time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(upstreamClosed.Task.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(0, await upstreamClosed.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Empty(await ReadOrResetAsync(client, limit.Token));
    }

    [Fact]
    public async Task Connections_OverMaxConnections_RefusedAsOverflow()
    {
        var release = new TaskCompletionSource();
        await using var backend = new TcpBackend("held", async (socket, token) => await release.Task.WaitAsync(token));
        await using var server = await StartAsync(Snapshot(To(("held", 100)), Cluster("held", backend.Port, new ConnectionPoolConfig(MaxConnections: 1))));
        using var first = await ConnectAsync(server);
        await Eventually.TrueAsync(() => backend.Connections == 1, "the first connection reaches the upstream");

        Assert.Equal("", await ExchangeAsync(server, "second"));
        Assert.Equal(1, backend.Connections);
        Assert.Contains("response_flags=\"UO\"", server.PrometheusMetrics(), StringComparison.Ordinal);
        release.SetResult();
    }

    [Fact]
    public async Task Route_BySniAndDestinationSubnet_FirstMatchWins()
    {
        await using var a = new TcpBackend("a", (socket, token) => socket.ReceiveAsync(new byte[1], SocketFlags.None, token).AsTask());
        await using var b = new TcpBackend("b", (socket, token) => socket.ReceiveAsync(new byte[1], SocketFlags.None, token).AsTask());
        var tcp = new TcpProxyConfig(
        [
            new TcpRouteConfig("a", [new TcpMatchConfig(SniHosts: ["a.example.test"])], [new WeightedClusterConfig("a", 100)]),
            new TcpRouteConfig("elsewhere", [new TcpMatchConfig(DestinationSubnets: ["10.0.0.0/8"])], [new WeightedClusterConfig("a", 100)]),
            new TcpRouteConfig("b", [new TcpMatchConfig(SniHosts: ["*.example.test"], DestinationSubnets: ["127.0.0.1"])], [new WeightedClusterConfig("b", 100)]),
        ]);
        await using var server = await StartAsync(Snapshot(tcp, Cluster("a", a.Port), Cluster("b", b.Port)));

        await HelloAsync(server, "a.example.test");
        await Eventually.TrueAsync(() => a.Connections == 1, "a.example.test goes to a");
        await HelloAsync(server, "other.example.test");
        await Eventually.TrueAsync(() => b.Connections == 1, "other.example.test goes to b");
        await HelloAsync(server, "example.org");
        Assert.Contains("response_flags=\"NR\"", server.PrometheusMetrics(), StringComparison.Ordinal);
        Assert.Equal((1, 1), (a.Connections, b.Connections));
    }

    [Fact]
    public async Task Listener_StrictPeerAuthentication_RefusesCleartext()
    {
        await using var backend = new TcpBackend("a");
        var snapshot = Snapshot(To(("a", 100)), Cluster("a", backend.Port));
        snapshot = snapshot with { Listeners = [snapshot.Listeners[0] with { Kind = ListenerKind.Inbound, Mtls = PeerAuthenticationMode.Strict }] };
        await using var server = await StartAsync(snapshot);

        // Under STRICT only mesh mTLS is taken (TcpMtlsTests): cleartext is closed before the upstream is dialled.
        Assert.Equal("", await ExchangeAsync(server, "hello"));
        Assert.Equal(0, backend.Connections);
    }

    [Fact]
    public async Task Connect_IstioMutualCluster_NeverSendsCleartext()
    {
        await using var backend = new TcpBackend("a");
        var cluster = Cluster("a", backend.Port) with { Tls = new ClusterTlsConfig(ClusterTlsMode.IstioMutual, []) };
        await using var server = await StartAsync(Snapshot(To(("a", 100)), cluster));

        Assert.Equal("", await ExchangeAsync(server, "hello"));
        Assert.Equal(0, backend.Connections);
        Assert.Contains("response_flags=\"UF\"", server.PrometheusMetrics(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_PassthroughCluster_GoesWhereTheClientMeant()
    {
        // A ServiceEntry with resolution NONE: the listener's host (TCP port) or the ClientHello's server name (TLS port).
        await using var backend = new TcpBackend("a");
        var passthrough = new ClusterConfig("passthrough", [], LoadBalancerKind.Passthrough);
        await using (var byHost = await StartAsync(Snapshot(To(("passthrough", 100)) with { Original = new OriginalDestinationConfig("127.0.0.1", backend.Port) }, passthrough)))
        {
            Assert.Equal("a:hello", await ExchangeAsync(byHost, "hello"));
        }

        var sni = new TcpProxyConfig([new TcpRouteConfig("r", [new TcpMatchConfig(SniHosts: ["localhost"])], [new WeightedClusterConfig("passthrough", 100)])],
            SniPeek: true, Original: new OriginalDestinationConfig(null, backend.Port));
        await using (var byName = await StartAsync(Snapshot(sni, passthrough)))
        {
            await HelloAsync(byName, "localhost");
            await Eventually.TrueAsync(() => backend.Connections == 2, "the server name's address");
        }

        // Nowhere known: closed as no healthy upstream, never sent to some default.
        await using var nowhere = await StartAsync(Snapshot(To(("passthrough", 100)), passthrough));
        Assert.Equal("", await ExchangeAsync(nowhere, "hello"));
        Assert.Contains("response_flags=\"UH\"", nowhere.PrometheusMetrics(), StringComparison.Ordinal);
        Assert.Equal(2, backend.Connections);
    }

    [Fact]
    public async Task Apply_BadTcpRoutes_RejectedWithEveryError()
    {
        await using var server = new ProxyServer(new ProxyServerOptions(), NullLoggerFactory.Instance);
        var tcp = new TcpProxyConfig([new TcpRouteConfig("", [new TcpMatchConfig(["not-a-subnet"], "10.0.0.0/99")], [new WeightedClusterConfig("missing", -1)])],
            Original: new OriginalDestinationConfig("db.example", 0));

        var result = await server.ApplyAsync(Snapshot(tcp));

        Assert.False(result.Accepted);
        Assert.Equal(
        [
            "listeners[0].tcp.original.port: 0 is not a port (1-65535)",
            "listeners[0].tcp.routes[0].name: must not be empty",
            "listeners[0].tcp.routes[0].clusters[0].cluster: cluster 'missing' not found",
            "listeners[0].tcp.routes[0].clusters[0].weight: -1 is negative",
            "listeners[0].tcp.routes[0].matches[0].destinationSubnets[0]: 'not-a-subnet' is not a CIDR or an IP address",
            "listeners[0].tcp.routes[0].matches[0].sourceSubnet: '10.0.0.0/99' is not a CIDR or an IP address",
        ], result.Errors);
    }

    /// <summary>Starts a TLS handshake naming <paramref name="serverName"/> through the proxy; the upstreams are not TLS, so it is abandoned once sent.</summary>
    private static async Task HelloAsync(ProxyServer server, string serverName)
    {
        using var socket = await ConnectAsync(server);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await using var tls = new SslStream(stream);
        using var abandon = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = serverName }, abandon.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or System.Security.Authentication.AuthenticationException)
        {
        }
    }

    private static async Task<byte[]> ReadOrResetAsync(Socket socket, CancellationToken token)
    {
        try
        {
            return await TcpBackend.ReadToEndAsync(socket, token);
        }
        catch (SocketException)
        {
            return [];
        }
    }
}
