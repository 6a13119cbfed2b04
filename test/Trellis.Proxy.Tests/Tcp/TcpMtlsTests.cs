using System.Net.Sockets;
using System.Text;
using Trellis.Api.Security;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;
using Trellis.Proxy.Tests.Security;
using static Trellis.Proxy.Tests.Tcp.TcpProxyTests;

namespace Trellis.Proxy.Tests.Tcp;

/// <summary>
/// Mesh mTLS between TCP relays: a client workload's outbound relay speaks mTLS (auto mTLS, secure naming, Istio's
/// <c>istio</c> ALPN) to the destination's inbound relay, which terminates it and relays the bytes in the clear to the
/// workload. Under STRICT the inbound relay takes nothing else; under PERMISSIVE it passes cleartext, the application's own
/// TLS and server-first protocols through as they came.
/// </summary>
public sealed class TcpMtlsTests : IDisposable
{
    private static readonly string Db = MeshCa.Id("db");
    private static readonly string App = MeshCa.Id("app");
    private readonly MeshCa _ca = new();

    public void Dispose() => _ca.Dispose();

    /// <summary>The database's proxy: an inbound relay as <see cref="Db"/> in front of <paramref name="backend"/>.</summary>
    private async Task<ProxyServer> InboundAsync(int backend, PeerAuthenticationMode mode, AuthorizationConfig? authorization = null)
    {
        var snapshot = Snapshot(To(("inbound", 100)) with { DestinationPort = 5432 }, new ClusterConfig("inbound", [new EndpointConfig("127.0.0.1", backend)]));
        var listener = snapshot.Listeners[0] with
        {
            Kind = ListenerKind.Inbound,
            Identity = Db,
            Mtls = mode,
            Peer = new WorkloadMetadata("db", "default", new Dictionary<string, string>()),
            Authorization = authorization,
        };
        var server = await StartAsync(snapshot with { Listeners = [listener] });
        _ca.Install(server, Db);
        return server;
    }

    /// <summary>The client workload's proxy: an outbound relay as <paramref name="identity"/> to the inbound relay, expecting <paramref name="expected"/>.</summary>
    private async Task<ProxyServer> OutboundAsync(ProxyServer inbound, string? identity, string expected, ClusterTlsMode mode = ClusterTlsMode.Auto)
    {
        var cluster = new ClusterConfig("db", [new EndpointConfig("127.0.0.1", inbound.BoundEndpoints[0].Port, Mtls: true)], Tls: new ClusterTlsConfig(mode, [expected]));
        var snapshot = Snapshot(To(("db", 100)), cluster);
        var server = await StartAsync(snapshot with { Listeners = [snapshot.Listeners[0] with { Identity = identity }] });
        if (identity is not null)
        {
            _ca.Install(server, identity);
        }

        return server;
    }

    [Theory]
    [InlineData(PeerAuthenticationMode.Strict, ClusterTlsMode.Auto)]
    [InlineData(PeerAuthenticationMode.Permissive, ClusterTlsMode.Auto)]
    [InlineData(PeerAuthenticationMode.Strict, ClusterTlsMode.IstioMutual)]
    public async Task RelayPair_SpeaksMeshMtls_BytesReachTheWorkloadInTheClear(PeerAuthenticationMode mode, ClusterTlsMode tls)
    {
        await using var backend = new TcpBackend("db");
        await using var inbound = await InboundAsync(backend.Port, mode);
        await using var outbound = await OutboundAsync(inbound, App, Db, tls);
        var payload = string.Concat(Enumerable.Range(0, 100_000).Select(i => (char)('a' + (i % 26))));

        // Half-close crosses the mTLS hop as close_notify then FIN: the database still answers.
        Assert.Equal("db:hello", await ExchangeAsync(outbound, "hello"));
        Assert.Equal("db:" + payload, await ExchangeAsync(outbound, payload));
        await Eventually.TrueAsync(
            () => inbound.PrometheusMetrics().Split('\n').Any(l => l.StartsWith("istio_tcp_connections_closed_total{reporter=\"destination\"", StringComparison.Ordinal)
                && l.Contains("connection_security_policy=\"mutual_tls\"", StringComparison.Ordinal) && l.EndsWith(" 2", StringComparison.Ordinal)),
            "both connections are counted as mutual_tls by the inbound relay");
    }

    [Fact]
    public async Task Strict_CleartextAndTheApplicationsOwnTls_RefusedBeforeTheWorkload()
    {
        await using var backend = new TcpBackend("db");
        await using var inbound = await InboundAsync(backend.Port, PeerAuthenticationMode.Strict);
        await using var anonymous = await OutboundAsync(inbound, identity: null, Db); // no identity: auto mTLS falls back to cleartext

        Assert.Equal("", await ExchangeAsync(inbound, "hello"));
        Assert.Equal("", await ExchangeAsync(anonymous, "hello"));
        Assert.Equal("", await ExchangeRawAsync(inbound, await TlsClientHelloTests.CaptureAsync("db.example", "h2")));
        Assert.Equal(0, backend.Connections);
    }

    [Fact]
    public async Task Permissive_CleartextAndTheApplicationsOwnTls_PassedThroughAsTheyCame()
    {
        await using var backend = new TcpBackend("db");
        await using var inbound = await InboundAsync(backend.Port, PeerAuthenticationMode.Permissive);
        var hello = await TlsClientHelloTests.CaptureAsync("db.example", "h2");

        Assert.Equal("db:hello", await ExchangeAsync(inbound, "hello"));
        Assert.Equal("db:" + Encoding.Latin1.GetString(hello), await ExchangeRawAsync(inbound, hello));
        var closed = inbound.PrometheusMetrics().Split('\n').Where(l => l.StartsWith("istio_tcp_connections_opened_total{reporter=\"destination\"", StringComparison.Ordinal));
        Assert.Contains(closed, l => l.Contains("connection_security_policy=\"none\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Permissive_ServerFirstProtocol_RelayedOnceTheClientIsSeenToWait()
    {
        // An SMTP-like server speaks first; the client sends nothing until it has read the greeting.
        await using var backend = new TcpBackend("smtp", async (socket, token) =>
        {
            await socket.SendAsync("220 ready\r\n"u8.ToArray(), SocketFlags.None, token);
            var rest = await TcpBackend.ReadToEndAsync(socket, token);
            await socket.SendAsync(rest, SocketFlags.None, token);
            socket.Shutdown(SocketShutdown.Send);
        });
        await using var inbound = await InboundAsync(backend.Port, PeerAuthenticationMode.Permissive);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(inbound.BoundEndpoints[0]);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var greeting = new byte[11];
        var read = 0;
        while (read < greeting.Length)
        {
            var n = await socket.ReceiveAsync(greeting.AsMemory(read), SocketFlags.None, limit.Token);
            Assert.True(n > 0, "the greeting arrives");
            read += n;
        }

        Assert.Equal("220 ready\r\n", Encoding.ASCII.GetString(greeting));
        await socket.SendAsync("QUIT"u8.ToArray(), SocketFlags.None, limit.Token);
        socket.Shutdown(SocketShutdown.Send);
        Assert.Equal("QUIT", Encoding.ASCII.GetString(await TcpBackend.ReadToEndAsync(socket, limit.Token)));
    }

    [Fact]
    public async Task SecureNaming_ServerIsNotTheExpectedAccount_ClientRelayClosesWithUF()
    {
        var received = 0;
        await using var backend = new TcpBackend("db", async (socket, token) => Interlocked.Add(ref received, (await TcpBackend.ReadToEndAsync(socket, token)).Length));
        await using var inbound = await InboundAsync(backend.Port, PeerAuthenticationMode.Strict);
        await using var misnamed = await OutboundAsync(inbound, App, MeshCa.Id("payments"));

        // The server's handshake may finish before the client checks its certificate (and leaves): never a byte of data.
        Assert.Equal("", await ExchangeAsync(misnamed, "secret"));
        await Eventually.TrueAsync(() => backend.Connections == 0 || inbound.PrometheusMetrics().Contains("istio_tcp_connections_closed_total{reporter=\"destination\"", StringComparison.Ordinal), "the inbound side is done");
        Assert.Equal(0, Volatile.Read(ref received));
        Assert.Contains("response_flags=\"UF\"", misnamed.PrometheusMetrics(), StringComparison.Ordinal);
    }

    private static AuthorizationPolicyConfig Policy(string name, AuthorizationEffect action, Rule rule) => new("default/" + name, action, [rule]);

    private static Rule From(string account) => new() { From = [new RuleFrom { Source = new Source { Principals = [MeshCa.Principal(account)] } }] };

    public static TheoryData<string, AuthorizationPolicyConfig[], bool, bool> AuthorizationCases => new()
    {
        // name, policies, app may connect, another workload may connect
        { "ALLOW app's principal", [Policy("allow-app", AuthorizationEffect.Allow, From("app"))], true, false },
        { "ALLOW on the service port", [Policy("allow-port", AuthorizationEffect.Allow, new Rule { To = [new RuleTo { Operation = new Operation { Ports = ["5432"] } }] })], true, true },
        { "ALLOW on another port", [Policy("allow-port", AuthorizationEffect.Allow, new Rule { To = [new RuleTo { Operation = new Operation { Ports = ["3306"] } }] })], false, false },
        { "DENY the other namespace", [Policy("deny-ns", AuthorizationEffect.Deny, new Rule { From = [new RuleFrom { Source = new Source { NotNamespaces = ["default"] } }] })], true, false },
        // Istio's TCP reading of HTTP-only fields: an ALLOW rule with methods is void (nothing allowed); a DENY rule
        // drops them and denies on the rest (every connection to the port).
        { "ALLOW app, but only GETs: void on TCP", [Policy("allow-get", AuthorizationEffect.Allow, From("app") with { To = [new RuleTo { Operation = new Operation { Methods = ["GET"] } }] })], false, false },
        { "DENY GETs on 5432: denies 5432", [Policy("deny-get", AuthorizationEffect.Deny, new Rule { To = [new RuleTo { Operation = new Operation { Methods = ["GET"], Ports = ["5432"] } }] })], false, false },
    };

    [Theory]
    [MemberData(nameof(AuthorizationCases))]
    public async Task Authorization_ByPeerIdentityAndPort_AsIstioReadsPoliciesForTcp(string name, AuthorizationPolicyConfig[] policies, bool app, bool other)
    {
        await using var backend = new TcpBackend("db");
        await using var inbound = await InboundAsync(backend.Port, PeerAuthenticationMode.Strict, new AuthorizationConfig(policies));
        await using var fromApp = await OutboundAsync(inbound, App, Db);
        await using var fromOther = await OutboundAsync(inbound, MeshCa.Id("intruder", "elsewhere"), Db);

        Assert.True(app == ("db:hi" == await ExchangeAsync(fromApp, "hi")), name + ": app");
        Assert.True(other == ("db:hi" == await ExchangeAsync(fromOther, "hi")), name + ": the other workload");
        if (!app || !other)
        {
            Assert.Contains("response_flags=\"RBAC\"", inbound.PrometheusMetrics(), StringComparison.Ordinal);
        }
    }

    /// <summary>Sends <paramref name="bytes"/> to the first listener, half-closes, reads the answer to the end.</summary>
    private static async Task<string> ExchangeRawAsync(ProxyServer server, byte[] bytes)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server.BoundEndpoints[0]);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await socket.SendAsync(bytes, SocketFlags.None, limit.Token);
        socket.Shutdown(SocketShutdown.Send);
        try
        {
            return Encoding.Latin1.GetString(await TcpBackend.ReadToEndAsync(socket, limit.Token));
        }
        catch (SocketException)
        {
            return ""; // closed with the bytes unread: a reset
        }
    }
}
