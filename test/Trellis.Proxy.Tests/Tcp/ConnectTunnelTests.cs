using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Tests.Tcp;

/// <summary>
/// HTTP CONNECT on an outbound listener (a workload's <c>HTTPS_PROXY</c>) through a real <see cref="ProxyServer"/>: known
/// destinations relayed by their routes, unknown ones by the outbound traffic policy, malformed targets refused, and a
/// real HTTPS client (HttpClient with a proxy) reaching a loopback TLS server under both policies. Each on both engines:
/// the fast path (<c>fast</c>) and Kestrel serving the listener itself.
/// </summary>
public sealed class ConnectTunnelTests
{
    private const string Db = "outbound|5432||db.example";
    private const string Api = "outbound|443||api.example";

    private static ProxySnapshot Snapshot(bool registryOnly, int dbPort, int apiPort = 1, bool destinations = true)
    {
        var otherwise = registryOnly ? "BlackHoleCluster" : "PassthroughCluster";
        var catchAll = registryOnly
            ? new VirtualHostConfig("block_all", ["*"], [new RouteConfig("block_all", [], [], DirectResponse: new DirectResponseConfig(502))])
            : new VirtualHostConfig("allow_any", ["*"], [new RouteConfig("allow_any", [], [new WeightedClusterConfig("PassthroughCluster", 100)])]);
        var connect = new TcpDestinationsConfig(
            [
                new TcpDestinationConfig(["db.example"], 5432, TcpProxyTests.To((Db, 100))),
                new TcpDestinationConfig(["api.example", "*.api.example"], 443, TcpProxyTests.To((Api, 100))),
                new TcpDestinationConfig([], 5432, TcpProxyTests.To((Db, 100)), ["10.9.8.0/24", "192.0.2.7"]),
            ],
            otherwise);
        return new ProxySnapshot(
            "v1",
            [new ListenerConfig("out", "127.0.0.1", 0, ListenerKind.Outbound, "t", "client-1",
                Peer: new WorkloadMetadata("client", "default", new Dictionary<string, string> { ["app"] = "client" }),
                Destinations: destinations ? connect : null)],
            [new RouteTableConfig("t", [catchAll])],
            [
                new ClusterConfig(Db, [new EndpointConfig("127.0.0.1", dbPort)], Service: new ServiceMetadata("db.example", "db.example", "default")),
                new ClusterConfig(Api, [new EndpointConfig("127.0.0.2", apiPort)]),
                new ClusterConfig("PassthroughCluster", [], LoadBalancerKind.Passthrough),
                new ClusterConfig("BlackHoleCluster", []),
            ]);
    }

    private static ProxyServerOptions Engine(bool fast) => new() { FastHttp1 = fast, FastHttp2 = fast };

    /// <summary>Sends a CONNECT head, then (once answered 200) <paramref name="payload"/> with a half-close; returns the answer's head and what followed.</summary>
    private static async Task<(string Head, string Body)> TunnelAsync(ProxyServer server, string target, string payload = "hello", string extra = "")
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await socket.ConnectAsync(server.BoundEndpoints[0], limit.Token);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{extra}\r\n"), SocketFlags.None, limit.Token);
        var received = new StringBuilder();
        var buffer = new byte[4096];
        string head;
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token);
            if (read == 0)
            {
                return (received.ToString(), "");
            }

            received.Append(Encoding.ASCII.GetString(buffer, 0, read));
            var end = received.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                head = received.ToString()[..(end + 4)];
                received.Remove(0, end + 4);
                break;
            }
        }

        if (!head.StartsWith("HTTP/1.1 200 ", StringComparison.Ordinal))
        {
            return (head, received.ToString()); // a refusal's body
        }

        await socket.SendAsync(Encoding.ASCII.GetBytes(payload), SocketFlags.None, limit.Token);
        socket.Shutdown(SocketShutdown.Send);
        while (await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token) is var n and > 0)
        {
            received.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        return (head, received.ToString());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Connect_KnownDestination_200ThenRelayedAndCountedAsTcp(bool fast)
    {
        await using var db = new TcpBackend("db");
        await using var server = await TcpProxyTests.StartAsync(Snapshot(registryOnly: true, db.Port), Engine(fast));

        var (head, rest) = await TunnelAsync(server, "db.example:5432");

        Assert.Equal("HTTP/1.1 200 Connection established\r\n\r\n", head);
        Assert.Equal("db:hello", rest);
        var opened = server.PrometheusMetrics().Split('\n').Single(l => l.StartsWith("istio_tcp_connections_opened_total{reporter=\"source\"", StringComparison.Ordinal));
        Assert.Contains("destination_service=\"db.example\"", opened, StringComparison.Ordinal);
        Assert.Contains("response_flags=\"-\"", opened, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Connect_BytesSentWithTheHead_RelayedFirst(bool fast)
    {
        // A server that answers the first bytes it gets (no half-close needed: Kestrel's transport ends a connection at the client's FIN).
        await using var db = new TcpBackend("db", async (socket, token) =>
        {
            var buffer = new byte[64];
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, token);
            await socket.SendAsync(Encoding.ASCII.GetBytes("db:" + Encoding.ASCII.GetString(buffer, 0, n)), SocketFlags.None, token);
        });
        await using var server = await TcpProxyTests.StartAsync(Snapshot(registryOnly: true, db.Port), Engine(fast));
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server.BoundEndpoints[0]);

        // A client that does not wait for the 200 (allowed: the proxy must keep what follows the head).
        await socket.SendAsync("CONNECT db.example:5432 HTTP/1.1\r\nHost: db.example:5432\r\n\r\nearly"u8.ToArray(), SocketFlags.None);
        var all = new StringBuilder();
        var buffer = new byte[1024];
        while (await socket.ReceiveAsync(buffer, SocketFlags.None) is var n and > 0)
        {
            all.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        Assert.Equal("HTTP/1.1 200 Connection established\r\n\r\ndb:early", all.ToString());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Connect_UnknownHostAllowAny_PassedThroughToTheTarget(bool fast)
    {
        await using var other = new TcpBackend("other");
        await using var server = await TcpProxyTests.StartAsync(Snapshot(registryOnly: false, dbPort: 1), Engine(fast));

        var (head, rest) = await TunnelAsync(server, $"127.0.0.1:{other.Port}");

        Assert.StartsWith("HTTP/1.1 200 ", head, StringComparison.Ordinal);
        Assert.Equal("other:hello", rest);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Connect_UnknownHostRegistryOnly_502BlackHoleAndNothingDialled(bool fast)
    {
        await using var other = new TcpBackend("other");
        await using var server = await TcpProxyTests.StartAsync(Snapshot(registryOnly: true, dbPort: 1), Engine(fast));

        var (head, rest) = await TunnelAsync(server, $"127.0.0.1:{other.Port}");

        Assert.StartsWith("HTTP/1.1 502 ", head, StringComparison.Ordinal);
        Assert.Contains("Connection: close", head, StringComparison.Ordinal);
        Assert.Contains("BlackHoleCluster", rest, StringComparison.Ordinal);
        Assert.Equal(0, other.Connections);
        var closed = server.PrometheusMetrics().Split('\n').Single(l => l.StartsWith("istio_tcp_connections_closed_total{reporter=\"source\"", StringComparison.Ordinal));
        Assert.Contains("response_flags=\"UH\"", closed, StringComparison.Ordinal);
    }

    /// <summary>ServiceEntry <c>addresses</c>: a CONNECT to an IP literal in them, on the entry's port, is the entry's, whatever the policy.</summary>
    [Theory]
    [InlineData("10.9.8.7:5432", "HTTP/1.1 200 ")]
    [InlineData("192.0.2.7:5432", "HTTP/1.1 200 ")]
    [InlineData("10.9.9.7:5432", "HTTP/1.1 502 ")]
    [InlineData("10.9.8.7:5433", "HTTP/1.1 502 ")]
    public async Task Connect_IpLiteralInEntryAddresses_RelayedToTheEntry(string target, string status)
    {
        await using var db = new TcpBackend("db");
        await using var server = await TcpProxyTests.StartAsync(Snapshot(registryOnly: true, db.Port), Engine(true));

        var (head, rest) = await TunnelAsync(server, target);

        Assert.StartsWith(status, head, StringComparison.Ordinal);
        if (status.Contains("200", StringComparison.Ordinal))
        {
            Assert.Equal("db:hello", rest);
        }
    }

    [Fact]
    public async Task Connect_KnownPortOfAnotherNumber_IsUnknown()
    {
        await using var db = new TcpBackend("db");
        await using var server = await TcpProxyTests.StartAsync(Snapshot(registryOnly: true, db.Port), Engine(true));

        Assert.StartsWith("HTTP/1.1 502 ", (await TunnelAsync(server, "db.example:5433")).Head, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("db.example", "no port")]
    [InlineData("db.example:99999", "port")]
    [InlineData("user@db.example:5432", "host")]
    [InlineData("db.example", "no port", false)]
    public async Task Connect_MalformedTarget_400WithTheReason(string target, string reason, bool fast = true)
    {
        await using var server = await TcpProxyTests.StartAsync(Snapshot(registryOnly: false, dbPort: 1), Engine(fast));

        var (head, rest) = await TunnelAsync(server, target);

        Assert.StartsWith("HTTP/1.1 400 ", head, StringComparison.Ordinal);
        Assert.Contains(reason, rest, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Connect_WithContent_400(bool fast)
    {
        await using var server = await TcpProxyTests.StartAsync(Snapshot(registryOnly: false, dbPort: 1), Engine(fast));

        var (head, rest) = await TunnelAsync(server, "db.example:5432", extra: "Content-Length: 5\r\n");

        Assert.StartsWith("HTTP/1.1 400 ", head, StringComparison.Ordinal);
        Assert.Contains("no content", rest, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Connect_UpstreamRefuses_503UF(bool fast)
    {
        int closedPort;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            closedPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        await using var server = await TcpProxyTests.StartAsync(Snapshot(registryOnly: true, closedPort), Engine(fast));

        var (head, _) = await TunnelAsync(server, "db.example:5432");

        Assert.StartsWith("HTTP/1.1 503 ", head, StringComparison.Ordinal);
        Assert.Contains("x-trellis-response-flags: UF", head, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Connect_ListenerWithoutDestinations_405(bool fast)
    {
        await using var server = await TcpProxyTests.StartAsync(Snapshot(registryOnly: false, dbPort: 1, destinations: false), Engine(fast));

        Assert.StartsWith("HTTP/1.1 405 ", (await TunnelAsync(server, "db.example:5432")).Head, StringComparison.Ordinal);
    }

    /// <summary>
    /// The workload's view: HttpClient with the listener as its proxy (what <c>HTTPS_PROXY</c> gives it) speaks TLS end to
    /// end to an "external" server on 127.0.0.2, named by a destination (both policies) or unknown (ALLOW_ANY only).
    /// </summary>
    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(true, false)]
    public async Task HttpsProxyClient_ExternalTlsServer_ReachedOrRefusedByPolicy(bool registryOnly, bool fast)
    {
        using var certificate = SelfSigned("api.example");
        await using var api = new TlsServer("api", IPAddress.Parse("127.0.0.2"), certificate);
        await using var unknown = new TlsServer("unknown", IPAddress.Loopback, certificate);
        await using var server = await TcpProxyTests.StartAsync(Snapshot(registryOnly, dbPort: 1, api.Port), Engine(fast));
        using var client = new HttpClient(new SocketsHttpHandler
        {
            Proxy = new WebProxy($"http://127.0.0.1:{server.BoundEndpoints[0].Port}"),
            UseProxy = true,
            SslOptions = { RemoteCertificateValidationCallback = (_, c, _, _) => c is not null && c.GetCertHashString() == certificate.GetCertHashString() },
        })
        { Timeout = TimeSpan.FromSeconds(20) };

        Assert.Equal("api sni=api.example", await client.GetStringAsync(new Uri("https://api.example/")));
        Assert.Equal("api sni=v2.api.example", await client.GetStringAsync(new Uri("https://v2.api.example/")));
        var passthrough = client.GetStringAsync(new Uri($"https://127.0.0.1:{unknown.Port}/"));
        if (registryOnly)
        {
            var refused = await Assert.ThrowsAsync<HttpRequestException>(() => passthrough);
            Assert.Contains("502", refused.Message + refused.InnerException?.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal("unknown sni=", await passthrough);
        }
    }

    private static X509Certificate2 SelfSigned(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        san.AddDnsName("*." + name);
        request.CertificateExtensions.Add(san.Build());
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>An HTTPS server outside the mesh: answers every request with its name and the server name the client sent, then closes.</summary>
    private sealed class TlsServer : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public TlsServer(string name, IPAddress address, X509Certificate2 certificate)
        {
            _listener = new TcpListener(address, 0);
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    Socket socket;
                    try
                    {
                        socket = await _listener.AcceptSocketAsync(_stop.Token);
                    }
                    catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                    {
                        return;
                    }

                    _ = ServeAsync(name, socket, certificate);
                }
            });
        }

        public int Port { get; }

        private static async Task ServeAsync(string name, Socket socket, X509Certificate2 certificate)
        {
            try
            {
                await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate });
                var head = new StringBuilder();
                var buffer = new byte[4096];
                while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal) && await tls.ReadAsync(buffer) is var n and > 0)
                {
                    head.Append(Encoding.ASCII.GetString(buffer, 0, n));
                }

                var body = $"{name} sni={tls.TargetHostName}";
                await tls.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}"));
            }
            catch (Exception ex) when (ex is IOException or SocketException or System.Security.Authentication.AuthenticationException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _loop;
            _stop.Dispose();
        }
    }
}
