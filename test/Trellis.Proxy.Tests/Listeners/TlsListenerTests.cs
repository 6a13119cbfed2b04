using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Listeners;

public sealed class TlsListenerTests
{
    [Theory]
    [InlineData(2, "HTTP/2")]
    [InlineData(1, "HTTP/1.1")]
    public async Task TlsListener_AlpnNegotiatesVersion_AndForwards(int major, string expected)
    {
        await using var backend = await TestBackend.StartAsync(c => c.Response.WriteAsync("seen " + c.Request.Headers["x-forwarded-proto"]));
        var (cert, key) = SelfSigned("gateway.example.com");
        var snapshot = Snapshots.ToCluster("v1", backend.Endpoint) is var s
            ? s with { Listeners = [Snapshots.Listener() with { Tls = new ListenerTlsConfig(cert, key) }] }
            : null!;
        await using var proxy = new ProxyServer(new ProxyServerOptions(), NullLoggerFactory.Instance);
        var applied = await proxy.ApplyAsync(snapshot);
        Assert.True(applied.Accepted, string.Join("; ", applied.Errors));

        using var client = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            SslOptions = { RemoteCertificateValidationCallback = (_, c, _, _) => c?.Subject == "CN=gateway.example.com" },
        });
        using var request = new HttpRequestMessage(HttpMethod.Get, $"https://127.0.0.1:{proxy.BoundEndpoints[0].Port}/")
        {
            Version = new Version(major, major == 2 ? 0 : 1),
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, $"HTTP/{response.Version.ToString(major == 2 ? 1 : 2)}");
        Assert.Equal("seen https", await response.Content.ReadAsStringAsync());
    }

    /// <summary>Gateway API HTTPS listeners: the server name (SNI) picks the route table; the Host header only picks within it.</summary>
    [Theory]
    [InlineData("second.example.org", "second.example.org", "second")]
    [InlineData("api.wild.example", "api.wild.example", "wild")]
    [InlineData("unknown.example.org", "example.org", "catch-all")]
    [InlineData("unknown.example.org", "second.example.org", "404")]
    [InlineData(null, "example.org", "catch-all")]
    public async Task TlsListener_ServerNames_BoundTheRoutesByTheClientsSni(string? sni, string host, string expected)
    {
        await using var catchAll = await TestBackend.StartNamedAsync("catch-all");
        await using var second = await TestBackend.StartNamedAsync("second");
        await using var wild = await TestBackend.StartNamedAsync("wild");
        var (cert, key) = SelfSigned("gateway.example.com");
        static RouteTableConfig Table(string name, string domain, string cluster) => new(name, [new VirtualHostConfig(domain, [domain], [Snapshots.Route("r", cluster)])]);
        var snapshot = new ProxySnapshot(
            "v1",
            [Snapshots.Listener(table: "port") with
            {
                Tls = new ListenerTlsConfig(cert, key),
                ServerNames = [new ServerNameRouteConfig("second.example.org", "second"), new ServerNameRouteConfig("*.wild.example", "wild")],
            }],
            [Table("port", "example.org", "catch-all"), Table("second", "second.example.org", "second"), Table("wild", "*.wild.example", "wild")],
            [new ClusterConfig("catch-all", [catchAll.Endpoint]), new ClusterConfig("second", [second.Endpoint]), new ClusterConfig("wild", [wild.Endpoint])]);
        await using var proxy = new ProxyServer(new ProxyServerOptions(), NullLoggerFactory.Instance);
        var applied = await proxy.ApplyAsync(snapshot);
        Assert.True(applied.Accepted, string.Join("; ", applied.Errors));

        using var client = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            // TLS made here, so that the server name sent can differ from the Host header (the handler would send the Host).
            ConnectCallback = async (context, token) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                await socket.ConnectAsync(proxy.BoundEndpoints[0], token);
                var tls = new System.Net.Security.SslStream(new System.Net.Sockets.NetworkStream(socket, ownsSocket: true));
                await tls.AuthenticateAsClientAsync(
                    new System.Net.Security.SslClientAuthenticationOptions
                    {
                        TargetHost = sni ?? "127.0.0.1",
                        ApplicationProtocols = [System.Net.Security.SslApplicationProtocol.Http11],
                        RemoteCertificateValidationCallback = (_, c, _, _) => c?.Subject == "CN=gateway.example.com",
                    },
                    token);
                return tls;
            },
        });
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{proxy.BoundEndpoints[0].Port}/");
        request.Headers.Host = host;
        using var response = await client.SendAsync(request);

        Assert.Equal(expected, response.StatusCode == HttpStatusCode.NotFound ? "404" : await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Apply_KeyOfAnotherCertificate_IsNackedAndNothingChanges()
    {
        var (cert, _) = SelfSigned("a.example.com");
        var (_, otherKey) = SelfSigned("b.example.com");
        await using var proxy = new ProxyServer(new ProxyServerOptions(), NullLoggerFactory.Instance);
        var snapshot = Snapshots.ToCluster("v1", new EndpointConfig("127.0.0.1", 9)) with
        {
            Listeners = [Snapshots.Listener() with { Tls = new ListenerTlsConfig(cert, otherKey) }],
        };

        var result = await proxy.ApplyAsync(snapshot);

        Assert.False(result.Accepted);
        Assert.Contains(result.Errors, e => e.StartsWith("listeners[0].tls:", StringComparison.Ordinal));
        Assert.Empty(proxy.BoundEndpoints);
    }

    [Fact]
    public async Task Apply_GarbagePem_IsNacked()
    {
        await using var proxy = new ProxyServer(new ProxyServerOptions(), NullLoggerFactory.Instance);
        var snapshot = Snapshots.ToCluster("v1", new EndpointConfig("127.0.0.1", 9)) with
        {
            Listeners = [Snapshots.Listener() with { Tls = new ListenerTlsConfig("not a certificate", "nor a key") }],
        };

        var result = await proxy.ApplyAsync(snapshot);

        Assert.False(result.Accepted);
        Assert.Contains(result.Errors, e => e.Contains("not valid PEM", StringComparison.Ordinal));
    }

    private static (string Certificate, string Key) SelfSigned(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return (cert.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }
}
