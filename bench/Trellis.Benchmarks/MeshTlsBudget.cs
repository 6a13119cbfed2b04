using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Identity;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Security.Tls;
using Trellis.Proxy.Upstream;

namespace Trellis.Benchmarks;

/// <summary>
/// The per-request work mTLS adds on the proxy's hot path: choosing an attempt's connector (auto mTLS to an endpoint that
/// accepts it, as the calling workload; cleartext to one that does not). The handshake is per connection, not budgeted.
/// </summary>
internal static class MeshTlsBudget
{
    private const string Client = "spiffe://cluster.local/ns/default/sa/client";
    private const string Server = "spiffe://cluster.local/ns/default/sa/backend";

    public static IEnumerable<(string Name, Action Call)> Operations()
    {
        var identities = new WorkloadIdentities();
        identities.Set(SelfSigned(Client));
        var tls = new MeshTls(identities, TimeProvider.System, NullLogger.Instance);
        var connectors = new MeshConnectors(tls, () => new SocketsHttpHandler());
        var endpoints = new[] { new EndpointState("10.0.0.1", 15006), new EndpointState("10.0.0.2", 15006) };
        var config = new ClusterConfig(
            "backend", [new EndpointConfig("10.0.0.1", 15006, Mtls: true), new EndpointConfig("10.0.0.2", 15006)],
            Tls: new ClusterTlsConfig(ClusterTlsMode.Auto, [Server]));
        var cluster = new ClusterState(config, endpoints, new HttpMessageInvoker(new SocketsHttpHandler()), Random.Shared.Next, TimeProvider.System)
        {
            Tls = new ClusterTls(config, endpoints, TcpConnector.Instance, connectors),
        };
        if (cluster.ConnectorFor(endpoints[0], Client, "backend") is not TlsConnector || cluster.ConnectorFor(endpoints[1], Client, "backend") is TlsConnector)
        {
            throw new InvalidOperationException("the mTLS fixture no longer chooses mTLS for the first endpoint only; the budget would measure the wrong work");
        }

        yield return ("mTLS: connector, auto mTLS endpoint", () => cluster.ConnectorFor(endpoints[0], Client, "backend"));
        yield return ("mTLS: connector, cleartext endpoint", () => cluster.ConnectorFor(endpoints[1], Client, "backend"));
    }

    private static WorkloadCertificate SelfSigned(string identity)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("O=bench", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(identity));
        request.CertificateExtensions.Add(san.Build(critical: true));
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(1));
        return new WorkloadCertificate(identity, certificate, [], certificate.NotAfter);
    }
}
