using System.Net;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;
using Trellis.Proxy.Tests.Pipeline;

namespace Trellis.Proxy.Tests.Security;

/// <summary>
/// TLS origination (DestinationRule <c>tls.mode</c> SIMPLE and MUTUAL) from every engine to an HTTPS server outside the
/// mesh: a client's cleartext request leaves the proxy as TLS, with Istio's checks of the server (its chain against the
/// rule's CA, its names against <c>subjectAltNames</c> or the request's host) and server name (<c>sni</c>, else the
/// request's host); a server that fails them is never sent the request (503).
/// </summary>
public sealed class TlsOriginationTests : IDisposable
{
    private const string Host = "api.external.example";
    private readonly TestPki _pki = new();
    private readonly TestPki _other = new("Another Root CA");

    public static TheoryData<Engine> All() => Engines.All();

    public void Dispose()
    {
        _pki.Dispose();
        _other.Dispose();
    }

    private static ClusterConfig Cluster(TestBackend backend, OriginationTlsConfig tls, ClusterTlsMode mode = ClusterTlsMode.Simple, UpstreamProtocol protocol = UpstreamProtocol.Http1) =>
        new("ext", [backend.Endpoint], Protocol: protocol, Tls: new ClusterTlsConfig(mode, [], Origination: tls));

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(ProxyHarness proxy, Engine engine, string host = Host)
    {
        using var request = Engines.Request(engine, HttpMethod.Get, "/", ("host", host));
        using var response = await proxy.Client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [MemberData(nameof(All))]
    public async Task Simple_EveryEngine_OriginatesTlsWithAutoSniAndChecksTheServer(Engine engine)
    {
        using var certificate = _pki.Server(Host);
        await using var backend = await TestBackend.StartTlsAsync(certificate);
        await using var proxy = await Engines.StartAsync(engine, [Snapshots.Route("r", "ext")], [Cluster(backend, new OriginationTlsConfig(CaCertificatesPem: _pki.RootPem))]);

        Assert.Equal((HttpStatusCode.OK, $"tls sni={Host} client= HTTP/1.1"), await GetAsync(proxy, engine));
        Assert.Equal((HttpStatusCode.OK, $"tls sni={Host} client= HTTP/1.1"), await GetAsync(proxy, engine)); // a pooled TLS connection
        // Auto SAN validation: the certificate must name the host asked for.
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await GetAsync(proxy, engine, "other.example")).Status);
    }

    [Fact]
    public async Task Simple_ServerOfAnotherCa_IsRefused_UnlessInsecureSkipVerify()
    {
        using var certificate = _other.Server(Host);
        await using var backend = await TestBackend.StartTlsAsync(certificate);
        await using var strict = await Engines.StartAsync(Engine.Http1Fast, [Snapshots.Route("r", "ext")], [Cluster(backend, new OriginationTlsConfig(CaCertificatesPem: _pki.RootPem))]);
        await using var system = await Engines.StartAsync(Engine.Http1Fast, [Snapshots.Route("r", "ext")], [Cluster(backend, new OriginationTlsConfig())]);
        await using var insecure = await Engines.StartAsync(Engine.Http1Fast, [Snapshots.Route("r", "ext")], [Cluster(backend, new OriginationTlsConfig(InsecureSkipVerify: true))]);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await GetAsync(strict, Engine.Http1Fast)).Status);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await GetAsync(system, Engine.Http1Fast)).Status); // not a root of the system's store
        Assert.Equal((HttpStatusCode.OK, $"tls sni={Host} client= HTTP/1.1"), await GetAsync(insecure, Engine.Http1Fast));
    }

    [Fact]
    public async Task Simple_SniAndSubjectAltNames_AsWritten()
    {
        using var certificate = _pki.Server("backend.internal.example");
        await using var backend = await TestBackend.StartTlsAsync(certificate);
        var route = Snapshots.Route("r", "ext");
        // An explicit sni turns auto SAN validation off: the chain alone is checked.
        await using var sni = await Engines.StartAsync(Engine.Http1Kestrel, [route], [Cluster(backend, new OriginationTlsConfig(Sni: "sni.example", CaCertificatesPem: _pki.RootPem))]);
        await using var sans = await Engines.StartAsync(Engine.Http1Kestrel, [route], [Cluster(backend, new OriginationTlsConfig(SubjectAltNames: ["other.example", "backend.internal.example"], CaCertificatesPem: _pki.RootPem))]);
        await using var wrong = await Engines.StartAsync(Engine.Http1Kestrel, [route], [Cluster(backend, new OriginationTlsConfig(Sni: "sni.example", SubjectAltNames: ["sni.example"], CaCertificatesPem: _pki.RootPem))]);

        Assert.Equal((HttpStatusCode.OK, "tls sni=sni.example client= HTTP/1.1"), await GetAsync(sni, Engine.Http1Kestrel));
        Assert.Equal((HttpStatusCode.OK, $"tls sni={Host} client= HTTP/1.1"), await GetAsync(sans, Engine.Http1Kestrel));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await GetAsync(wrong, Engine.Http1Kestrel)).Status);
    }

    [Theory]
    [MemberData(nameof(All))]
    public async Task Mutual_EveryEngine_PresentsTheClientCertificate(Engine engine)
    {
        using var certificate = _pki.Server(Host);
        using var client = _pki.Client("productpage.external-client");
        var (clientPem, keyPem) = TestPki.Pem(client);
        await using var backend = await TestBackend.StartTlsAsync(certificate, clientCa: _pki.Root);
        var mutual = Cluster(backend, new OriginationTlsConfig(CaCertificatesPem: _pki.RootPem, ClientCertificatePem: clientPem, PrivateKeyPem: keyPem), ClusterTlsMode.Mutual);
        var simple = Cluster(backend, new OriginationTlsConfig(CaCertificatesPem: _pki.RootPem)) with { Name = "simple" };
        await using var proxy = await Engines.StartAsync(
            engine,
            [Snapshots.Route("m", "ext", new RouteMatchConfig(Uri: new StringMatchConfig(StringMatchKind.Exact, "/"))), Snapshots.Route("s", "simple")],
            [mutual, simple]);

        Assert.Equal((HttpStatusCode.OK, $"tls sni={Host} client=CN=productpage.external-client HTTP/1.1"), await GetAsync(proxy, engine));
        // TLS 1.3: the server refuses a missing certificate after the client's handshake ends, so the request fails on a
        // reset (502) rather than at connect (503); either way it never reaches the server's application.
        using var withoutCertificate = Engines.Request(engine, HttpMethod.Get, "/simple", ("host", Host));
        using var refused = await proxy.Client.SendAsync(withoutCertificate);
        Assert.Contains(refused.StatusCode, new[] { HttpStatusCode.BadGateway, HttpStatusCode.ServiceUnavailable });
    }

    [Fact]
    public async Task Http2Cluster_H2InsideTheOriginatedTls()
    {
        using var certificate = _pki.Server(Host);
        // The request keeps the client's :scheme (http) inside the TLS session (RFC 8164); Kestrel accepts that only when asked to.
        await using var backend = await TestBackend.StartTlsAsync(certificate, protocols: Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2);
        var cluster = Cluster(backend, new OriginationTlsConfig(CaCertificatesPem: _pki.RootPem), protocol: UpstreamProtocol.Http2);
        await using var proxy = await Engines.StartAsync(Engine.Http2Kestrel, [Snapshots.Route("r", "ext")], [cluster]);

        Assert.Equal((HttpStatusCode.OK, $"tls sni={Host} client= HTTP/2"), await GetAsync(proxy, Engine.Http2Kestrel));
    }

    [Fact]
    public async Task UnusableSettings_EveryConnectionRefused_NeverCleartext()
    {
        using var certificate = _pki.Server(Host);
        await using var backend = await TestBackend.StartTlsAsync(certificate);
        var missing = Path.Combine(Path.GetTempPath(), "trellis-no-such-ca-" + Guid.NewGuid().ToString("N") + ".pem");
        await using var deleted = await Engines.StartAsync(Engine.Http1Fast, [Snapshots.Route("r", "ext")], [Cluster(backend, new OriginationTlsConfig(Error: "Secret default/gone (credentialName) not found"))]);
        await using var noFile = await Engines.StartAsync(Engine.Http1Fast, [Snapshots.Route("r", "ext")], [Cluster(backend, new OriginationTlsConfig(CaCertificatesFile: missing))]);
        await using var badPem = await Engines.StartAsync(Engine.Http1Fast, [Snapshots.Route("r", "ext")], [Cluster(backend, new OriginationTlsConfig(CaCertificatesPem: "not a certificate"))]);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await GetAsync(deleted, Engine.Http1Fast)).Status);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await GetAsync(noFile, Engine.Http1Fast)).Status);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await GetAsync(badPem, Engine.Http1Fast)).Status);
    }

    [Fact]
    public async Task CaCertificatesFile_ReadOnTheProxysHost()
    {
        using var certificate = _pki.Server(Host);
        await using var backend = await TestBackend.StartTlsAsync(certificate);
        var file = Path.Combine(Path.GetTempPath(), "trellis-ca-" + Guid.NewGuid().ToString("N") + ".pem");
        await File.WriteAllTextAsync(file, _pki.RootPem);
        try
        {
            await using var proxy = await Engines.StartAsync(Engine.Http1Fast, [Snapshots.Route("r", "ext")], [Cluster(backend, new OriginationTlsConfig(CaCertificatesFile: file))]);
            Assert.Equal((HttpStatusCode.OK, $"tls sni={Host} client= HTTP/1.1"), await GetAsync(proxy, Engine.Http1Fast));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
