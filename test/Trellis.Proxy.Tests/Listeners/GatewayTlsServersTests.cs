using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Listeners;

/// <summary>
/// An Istio Gateway port's TLS servers on a real listener: the certificate chosen by the client's server name, and
/// MUTUAL servers that require a client certificate from their CA naming one of their subjectAltNames.
/// </summary>
public sealed class GatewayTlsServersTests
{
    [Theory]
    [InlineData("a.example.com", "CN=a.example.com")]
    [InlineData("api.b.example.com", "CN=b.example.com")]
    [InlineData("unknown.example.org", "CN=a.example.com")] // no server names it: the port's first server
    public async Task ServerNames_ChooseTheCertificate(string sni, string expected)
    {
        var a = SelfSigned("CN=a.example.com");
        var b = SelfSigned("CN=b.example.com");
        var tls = new ListenerTlsConfig(a.Pem, a.Key, ServerNames:
        [
            new ServerNameTlsConfig(["a.example.com"], new ListenerTlsConfig(a.Pem, a.Key)),
            new ServerNameTlsConfig(["*.b.example.com"], new ListenerTlsConfig(b.Pem, b.Key)),
        ]);
        await using var backend = await TestBackend.StartAsync(c => c.Response.WriteAsync("ok"));
        await using var proxy = await StartAsync(backend, tls);

        var (status, served) = await GetAsync(proxy, sni, client: null);

        Assert.Equal("HTTP/1.1 200 OK", status);
        Assert.Equal(expected, served);
    }

    public static TheoryData<string, string?> MutualCases => new()
    {
        { "right CA and name", "200" },
        { "no client certificate", null },
        { "another CA", null },
        { "a name not listed", null },
        { "expired", null },
    };

    [Theory]
    [MemberData(nameof(MutualCases))]
    public async Task Mutual_RequiresAClientCertificateFromTheCaNamingAListedName(string scenario, string? expected)
    {
        using var ca = CaCertificate("CN=clients CA");
        using var otherCa = CaCertificate("CN=other CA");
        var server = SelfSigned("CN=gateway.example.com");
        var tls = new ListenerTlsConfig(server.Pem, server.Key, ca.ExportCertificatePem(), ["client.example.com"]);
        await using var backend = await TestBackend.StartAsync(c => c.Response.WriteAsync("ok"));
        await using var proxy = await StartAsync(backend, tls);
        using var client = scenario switch
        {
            "right CA and name" => Client(ca, "client.example.com", DateTimeOffset.UtcNow.AddDays(1)),
            "another CA" => Client(otherCa, "client.example.com", DateTimeOffset.UtcNow.AddDays(1)),
            "a name not listed" => Client(ca, "intruder.example.com", DateTimeOffset.UtcNow.AddDays(1)),
            "expired" => Client(ca, "client.example.com", DateTimeOffset.UtcNow.AddMinutes(-1)),
            _ => null,
        };

        var (status, _) = await GetAsync(proxy, "gateway.example.com", client);

        Assert.True((expected is null ? status is null : status == "HTTP/1.1 200 OK"), $"{scenario}: {status ?? "refused"}");
    }

    private static async Task<ProxyServer> StartAsync(TestBackend backend, ListenerTlsConfig tls)
    {
        var proxy = new ProxyServer(new ProxyServerOptions(), NullLoggerFactory.Instance);
        var applied = await proxy.ApplyAsync(Snapshots.ToCluster("v1", backend.Endpoint) with { Listeners = [Snapshots.Listener() with { Tls = tls }] });
        Assert.True(applied.Accepted, string.Join("; ", applied.Errors));
        return proxy;
    }

    /// <summary>One HTTP/1.1 request over TLS with <paramref name="sni"/>: the status line and the served certificate's subject; a null status when the handshake or the request was refused.</summary>
    private static async Task<(string? Status, string? Served)> GetAsync(ProxyServer proxy, string sni, X509Certificate2? client)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(proxy.BoundEndpoints[0]);
        await using var stream = new SslStream(new NetworkStream(socket, ownsSocket: false));
        string? served = null;
        try
        {
            await stream.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = sni,
                ApplicationProtocols = [SslApplicationProtocol.Http11],
                ClientCertificates = client is null ? null : [client],
                RemoteCertificateValidationCallback = (_, c, _, _) => (served = c?.Subject) is not null,
            });
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n"));
            using var reader = new StreamReader(stream);
            var status = await reader.ReadLineAsync();
            return (string.IsNullOrEmpty(status) ? null : status, served);
        }
        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException)
        {
            return (null, served);
        }
    }

    private static X509Certificate2 CaCertificate(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-10), DateTimeOffset.UtcNow.AddYears(1));
    }

    /// <summary>A client certificate from <paramref name="ca"/> naming <paramref name="name"/>, valid until <paramref name="notAfter"/>.</summary>
    private static X509Certificate2 Client(X509Certificate2 ca, string name, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var issued = request.Create(ca, notAfter.AddDays(-2), notAfter, RandomNumberGenerator.GetBytes(8));
        // An ephemeral key the TLS stack can use on Linux: exported and read back as PKCS#12.
        return X509CertificateLoader.LoadPkcs12(issued.CopyWithPrivateKey(key).Export(X509ContentType.Pkcs12), null);
    }

    private static (string Pem, string Key) SelfSigned(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var cert = new CertificateRequest(subject, key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return (cert.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }
}
