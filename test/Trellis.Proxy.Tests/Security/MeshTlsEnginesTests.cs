using System.Net;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Security;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;
using Trellis.Proxy.Tests.Pipeline;

namespace Trellis.Proxy.Tests.Security;

/// <summary>
/// mTLS between proxies on every engine, with certificates of the mesh CA: the inbound side (the fast paths serve TLS
/// themselves; Kestrel's own TLS when they are off) under STRICT and PERMISSIVE, the peer's identity reaching
/// AuthorizationPolicy principals, bad certificates refused while the proxy keeps serving; and the outbound side
/// (auto mTLS, secure naming) from each engine of a client proxy to a server proxy.
/// </summary>
public sealed class MeshTlsEnginesTests
{
    private static readonly string Reviews = MeshCa.Id("bookinfo-reviews");
    private static readonly string Productpage = MeshCa.Id("bookinfo-productpage");
    private static readonly string Ratings = MeshCa.Id("bookinfo-ratings");

    public static TheoryData<Engine> Engines() => Pipeline.Engines.All();

    private static ProxyServerOptions Options(Engine engine) => new() { FastHttp1 = engine == Engine.Http1Fast, FastHttp2 = engine == Engine.Http2Fast };

    private static AuthorizationConfig AllowOnly(string principal) => new(
        [new AuthorizationPolicyConfig("default/allow-productpage", AuthorizationEffect.Allow, [new Rule { From = [new RuleFrom { Source = new Source { Principals = [principal] } }] }])]);

    /// <summary>A server proxy whose inbound listener serves as reviews, to <paramref name="backend"/>.</summary>
    private static ProxySnapshot Server(TestBackend backend, PeerAuthenticationMode mode, HttpProtocols protocols, AuthorizationConfig? authorization = null) => new(
        "1",
        [Snapshots.Listener(protocols: protocols) with { Kind = ListenerKind.Inbound, Identity = Reviews, Mtls = mode, Authorization = authorization }],
        [new RouteTableConfig("rt", [new VirtualHostConfig("all", ["*"], [Snapshots.Route("r", "app")])])],
        [new ClusterConfig("app", [backend.Endpoint])]);

    private static Task<TestBackend> Backend() => TestBackend.StartAsync(context => context.Response.WriteAsync("upstream " + context.Request.Protocol));

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Strict_EveryEngine_ServesMtlsRefusesCleartextAndBadCertificates_AuthorizesByPrincipal(Engine engine)
    {
        using var ca = new MeshCa();
        using var other = new MeshCa();
        await using var backend = await Backend();
        var protocols = engine.IsHttp2() ? HttpProtocols.Http2 : HttpProtocols.Http1AndHttp2;
        await using var proxy = await ProxyHarness.StartAsync(Server(backend, PeerAuthenticationMode.Strict, protocols, AllowOnly(MeshCa.Principal("bookinfo-productpage"))), Options(engine));
        ca.Install(proxy.Server, Reviews);

        using var productpage = ca.Client(proxy.EndPoint, ca.Issue(Productpage), engine.IsHttp2());
        using var ratings = ca.Client(proxy.EndPoint, ca.Issue(Ratings), engine.IsHttp2());
        using var forged = ca.Client(proxy.EndPoint, other.Issue(Productpage), engine.IsHttp2());
        using var expired = ca.Client(proxy.EndPoint, ca.Issue(Productpage, TimeSpan.FromHours(1), DateTimeOffset.UtcNow.AddDays(-2)), engine.IsHttp2());
        using var anonymous = ca.Client(proxy.EndPoint, null, engine.IsHttp2());

        Assert.Equal((HttpStatusCode.OK, "upstream HTTP/1.1"), await GetAsync(productpage));
        Assert.Equal((HttpStatusCode.Forbidden, "RBAC: access denied"), await GetAsync(ratings));
        await Assert.ThrowsAsync<HttpRequestException>(() => forged.GetAsync("/"));
        await Assert.ThrowsAsync<HttpRequestException>(() => expired.GetAsync("/"));
        await Assert.ThrowsAsync<HttpRequestException>(() => anonymous.GetAsync("/"));
        await Assert.ThrowsAsync<HttpRequestException>(() => proxy.Client.GetAsync("/")); // cleartext to a STRICT port
        Assert.Equal((HttpStatusCode.OK, "upstream HTTP/1.1"), await GetAsync(productpage)); // the proxy is still up
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Permissive_EveryEngine_TlsAndCleartextOnOnePort(Engine engine)
    {
        using var ca = new MeshCa();
        await using var backend = await Backend();
        var protocols = engine.IsHttp2() ? HttpProtocols.Http2 : HttpProtocols.Http1AndHttp2;
        await using var proxy = await ProxyHarness.StartAsync(Server(backend, PeerAuthenticationMode.Permissive, protocols), Options(engine));
        ca.Install(proxy.Server, Reviews);
        using var productpage = ca.Client(proxy.EndPoint, ca.Issue(Productpage), engine.IsHttp2());
        using var cleartext = new HttpRequestMessage(HttpMethod.Get, "/")
        {
            Version = engine.IsHttp2() ? HttpVersion.Version20 : HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        Assert.Equal((HttpStatusCode.OK, "upstream HTTP/1.1"), await GetAsync(productpage));
        using var plain = await proxy.Client.SendAsync(cleartext);
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
    }

    /// <summary>An Istio Gateway port of ISTIO_MUTUAL servers: the gateway takes mesh mTLS only, as its own account.</summary>
    [Theory]
    [MemberData(nameof(Engines))]
    public async Task GatewayIstioMutual_EveryEngine_MeshCertificatesOnly(Engine engine)
    {
        using var ca = new MeshCa();
        using var other = new MeshCa();
        await using var backend = await Backend();
        var gatewayIdentity = MeshCa.Id("istio-ingressgateway-service-account", "istio-system");
        var protocols = engine.IsHttp2() ? HttpProtocols.Http2 : HttpProtocols.Http1AndHttp2;
        var snapshot = Server(backend, PeerAuthenticationMode.Strict, protocols);
        snapshot = snapshot with { Listeners = [snapshot.Listeners[0] with { Kind = ListenerKind.Gateway, Identity = gatewayIdentity }] };
        await using var gateway = await ProxyHarness.StartAsync(snapshot, Options(engine));
        ca.Install(gateway.Server, gatewayIdentity);

        using var meshClient = ca.Client(gateway.EndPoint, ca.Issue(Productpage), engine.IsHttp2());
        using var foreign = ca.Client(gateway.EndPoint, other.Issue(Productpage), engine.IsHttp2());
        using var anonymous = ca.Client(gateway.EndPoint, null, engine.IsHttp2());

        Assert.Equal((HttpStatusCode.OK, "upstream HTTP/1.1"), await GetAsync(meshClient));
        await Assert.ThrowsAsync<HttpRequestException>(() => foreign.GetAsync("/"));
        await Assert.ThrowsAsync<HttpRequestException>(() => anonymous.GetAsync("/"));
        await Assert.ThrowsAsync<HttpRequestException>(() => gateway.Client.GetAsync("/")); // cleartext
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task ProxyPair_EveryClientEngine_AutoMtlsWithTheWorkloadsIdentity_SecureNaming(Engine engine)
    {
        using var ca = new MeshCa();
        await using var backend = await Backend();
        await using var server = await ProxyHarness.StartAsync(
            Server(backend, PeerAuthenticationMode.Strict, HttpProtocols.Http1AndHttp2, AllowOnly(MeshCa.Principal("bookinfo-productpage"))), new ProxyServerOptions());
        ca.Install(server.Server, Reviews);
        var inbound = new EndpointConfig("127.0.0.1", server.EndPoint.Port, Mtls: true);
        var protocols = engine.IsHttp2() ? HttpProtocols.Http2 : HttpProtocols.Http1;
        ProxySnapshot Client(string identity, string expected) => new(
            "1",
            [Snapshots.Listener(protocols: protocols) with { Kind = ListenerKind.Outbound, Identity = identity }],
            [new RouteTableConfig("rt", [new VirtualHostConfig("all", ["*"], [Snapshots.Route("r", "reviews")])])],
            [new ClusterConfig("reviews", [inbound], Tls: new ClusterTlsConfig(ClusterTlsMode.Auto, [expected]))]);

        await using var productpage = await ProxyHarness.StartAsync(Client(Productpage, Reviews), Options(engine));
        ca.Install(productpage.Server, Productpage);
        await using var ratings = await ProxyHarness.StartAsync(Client(Ratings, Reviews), Options(engine));
        ca.Install(ratings.Server, Ratings);
        await using var misnamed = await ProxyHarness.StartAsync(Client(Productpage, MeshCa.Id("bookinfo-details")), Options(engine));
        ca.Install(misnamed.Server, Productpage);

        Assert.Equal((HttpStatusCode.OK, "upstream HTTP/1.1"), await GetAsync(productpage.Client, engine.IsHttp2()));
        Assert.Equal((HttpStatusCode.OK, "upstream HTTP/1.1"), await GetAsync(productpage.Client, engine.IsHttp2())); // a pooled mTLS connection
        Assert.Equal((HttpStatusCode.Forbidden, "RBAC: access denied"), await GetAsync(ratings.Client, engine.IsHttp2()));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await GetAsync(misnamed.Client, engine.IsHttp2())).Status);
    }

    /// <summary>
    /// A mirror copy goes as the calling workload, over mTLS like the request: a STRICT mirror target refused the
    /// cleartext copies it got before (the conformance mirror tests failed under STRICT).
    /// </summary>
    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Mirror_ToAStrictTarget_SentOverMtlsAsTheCallingWorkload(Engine engine)
    {
        using var ca = new MeshCa();
        await using var primary = await Backend();
        var copies = 0;
        await using var shadowApp = await TestBackend.StartAsync(context =>
        {
            Interlocked.Increment(ref copies);
            return context.Response.WriteAsync("shadow");
        });
        await using var shadow = await ProxyHarness.StartAsync(Server(shadowApp, PeerAuthenticationMode.Strict, HttpProtocols.Http1AndHttp2), new ProxyServerOptions());
        ca.Install(shadow.Server, Reviews);
        var protocols = engine.IsHttp2() ? HttpProtocols.Http2 : HttpProtocols.Http1;
        var client = new ProxySnapshot(
            "1",
            [Snapshots.Listener(protocols: protocols) with { Kind = ListenerKind.Outbound, Identity = Productpage }],
            [new RouteTableConfig("rt", [new VirtualHostConfig("all", ["*"], [Snapshots.Route("r", "app") with { Mirrors = [new MirrorConfig("reviews")] }])])],
            [new ClusterConfig("app", [primary.Endpoint]),
             new ClusterConfig("reviews", [new EndpointConfig("127.0.0.1", shadow.EndPoint.Port, Mtls: true)], Tls: new ClusterTlsConfig(ClusterTlsMode.Auto, [Reviews]))]);
        await using var productpage = await ProxyHarness.StartAsync(client, Options(engine));
        ca.Install(productpage.Server, Productpage);

        Assert.Equal((HttpStatusCode.OK, "upstream HTTP/1.1"), await GetAsync(productpage.Client, engine.IsHttp2()));
        await Eventually.TrueAsync(() => Volatile.Read(ref copies) == 1, "the shadow got the copy over mTLS");
    }

    /// <summary>gRPC's case: an HTTP/2 cluster (h2 inside the TLS session) to an HTTP/2-only inbound listener, on both server engines.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ProxyPair_Http2Cluster_MtlsToAnHttp2InboundListener(bool serverFastPath)
    {
        using var ca = new MeshCa();
        await using var backend = await TestBackend.StartAsync(
            context => context.Response.WriteAsync("upstream " + context.Request.Protocol), Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2);
        var serverSnapshot = Server(backend, PeerAuthenticationMode.Strict, HttpProtocols.Http2);
        serverSnapshot = serverSnapshot with { Clusters = [serverSnapshot.Clusters[0] with { Protocol = UpstreamProtocol.Http2 }] };
        await using var server = await ProxyHarness.StartAsync(serverSnapshot, new ProxyServerOptions { FastHttp1 = serverFastPath, FastHttp2 = serverFastPath });
        ca.Install(server.Server, Reviews);
        var client = new ProxySnapshot(
            "1",
            [Snapshots.Listener(protocols: HttpProtocols.Http1AndHttp2) with { Kind = ListenerKind.Outbound, Identity = Productpage }],
            [new RouteTableConfig("rt", [new VirtualHostConfig("all", ["*"], [Snapshots.Route("r", "reviews")])])],
            [new ClusterConfig("reviews", [new EndpointConfig("127.0.0.1", server.EndPoint.Port, Mtls: true)], Protocol: UpstreamProtocol.Http2, Tls: new ClusterTlsConfig(ClusterTlsMode.Auto, [Reviews]))]);
        await using var productpage = await ProxyHarness.StartAsync(client, new ProxyServerOptions());
        ca.Install(productpage.Server, Productpage);

        Assert.Equal((HttpStatusCode.OK, "upstream HTTP/2"), await GetAsync(productpage.Client, http2: true));
        Assert.Equal((HttpStatusCode.OK, "upstream HTTP/2"), await GetAsync(productpage.Client, http2: false));
    }

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(HttpClient client, bool? http2 = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/")
        {
            Version = http2 is { } h2 ? (h2 ? HttpVersion.Version20 : HttpVersion.Version11) : client.DefaultRequestVersion,
            VersionPolicy = http2 is null ? client.DefaultVersionPolicy : HttpVersionPolicy.RequestVersionExact,
        };

        using var response = await client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
