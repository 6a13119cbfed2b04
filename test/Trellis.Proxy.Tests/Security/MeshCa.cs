using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Trellis.Api.Identity;
using Trellis.ControlPlane.Ca;
using Trellis.Proxy.Identity;

namespace Trellis.Proxy.Tests.Security;

/// <summary>A mesh CA for tests: the control plane's own <see cref="CertificateAuthority"/> signing CSRs of the agent's <see cref="WorkloadKey"/>.</summary>
internal sealed class MeshCa : IDisposable
{
    public const string TrustDomain = "cluster.local";

    private readonly CaMaterial _material;

    public MeshCa(string trustDomain = TrustDomain)
    {
        _material = CertificateAuthority.CreateSelfSigned(trustDomain, DateTimeOffset.UtcNow.AddDays(-7));
    }

    public string RootPem => _material.RootPem;

    public X509Certificate2Collection Roots
    {
        get
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPem(RootPem);
            return roots;
        }
    }

    public static string Id(string serviceAccount, string ns = "default", string trustDomain = TrustDomain) => $"spiffe://{trustDomain}/ns/{ns}/sa/{serviceAccount}";

    public static string Principal(string serviceAccount, string ns = "default") => $"{TrustDomain}/ns/{ns}/sa/{serviceAccount}";

    /// <summary>A certificate for <paramref name="identity"/>, issued at <paramref name="issuedAt"/> (now by default) for <paramref name="lifetime"/>.</summary>
    public WorkloadCertificate Issue(string identity, TimeSpan? lifetime = null, DateTimeOffset? issuedAt = null)
    {
        var id = SpiffeId.Parse(identity);
        var ca = new CertificateAuthority(_material, new FixedTime(issuedAt ?? DateTimeOffset.UtcNow.AddMinutes(-1)));
        var key = WorkloadKey.Create(id, KeyAlgorithm.EcdsaP256);
        var (chain, notAfter, error) = ca.Sign(key.CsrPem, id, lifetime ?? TimeSpan.FromHours(24));
        Assert.True(chain is not null, error);
        var certificate = key.WithCertificate(chain!, out var intermediates);
        return new WorkloadCertificate(identity, certificate, intermediates, notAfter);
    }

    /// <summary>Gives <paramref name="proxy"/> the trust bundle and a certificate for each of <paramref name="identities"/>, as its agent does.</summary>
    public void Install(ProxyServer proxy, params string[] identities)
    {
        proxy.Identities.SetTrustBundle(RootPem);
        foreach (var identity in identities)
        {
            proxy.Identities.Set(Issue(identity));
        }
    }

    /// <summary>A client that calls over mTLS with <paramref name="certificate"/> (or none); the server must hold a certificate of this CA.</summary>
    public HttpClient Client(IPEndPoint endpoint, WorkloadCertificate? certificate, bool http2)
    {
        var roots = Roots;
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                EnabledSslProtocols = SslProtocols.Tls13,
                ClientCertificates = certificate is null ? null : new X509CertificateCollection { certificate.Certificate },
                RemoteCertificateValidationCallback = (_, server, chain, _) =>
                    Trellis.Proxy.Security.Tls.PeerCertificates.Verify(server, chain, roots, TrustDomain, DateTimeOffset.UtcNow, client: false).Peer is not null,
            },
        };
        return new HttpClient(handler)
        {
            BaseAddress = new Uri($"https://127.0.0.1:{endpoint.Port}"),
            DefaultRequestVersion = http2 ? HttpVersion.Version20 : HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(30),
        };
    }

    public void Dispose() => _material.Dispose();

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
