using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Trellis.Api.Identity;
using Trellis.Api.Networking;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Security.Tls;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// The TLS servers of a gateway port (<see cref="ListenerTlsConfig"/>), loaded once per snapshot and chosen per handshake by
/// the client's server name: several certificates on one port, as an Istio Gateway's servers with their own
/// <c>credentialName</c>. A MUTUAL server requires a client certificate that chains to its CA, is valid now, allows client
/// authentication and, when the server lists <c>subjectAltNames</c>, names one of them; anything else fails the handshake,
/// logged with the reason.
/// </summary>
internal sealed class GatewayTlsServers
{
    private readonly Server _default;
    private readonly ServerNameMap<Server>? _byName;

    public GatewayTlsServers(ListenerTlsConfig tls, HttpProtocols protocols, string listener, TimeProvider time, ILogger log)
    {
        _default = new Server(tls, protocols, listener, time, log);
        _byName = tls.ServerNames is { Count: > 0 } named
            ? new ServerNameMap<Server>(named.SelectMany(n => new Server(n.Tls, protocols, listener, time, log) is var server ? n.Hostnames.Select(h => (h, server)) : []))
            : null;
    }

    /// <summary>The options of the server <paramref name="serverName"/> chose (none matched, or none sent: the port's first server).</summary>
    public SslServerAuthenticationOptions For(string? serverName, string client) =>
        (serverName is { Length: > 0 } && _byName?.Find(serverName) is { } named ? named : _default).Options(client);

    /// <summary>Why the settings cannot be served (snapshot validation, so a bad one is NACKed), or null.</summary>
    public static string? Check(ListenerTlsConfig tls)
    {
        foreach (var (where, server) in (IEnumerable<(string, ListenerTlsConfig)>)[("", tls), .. (tls.ServerNames ?? []).Select(n => ($" (server {string.Join(",", n.Hostnames)})", n.Tls))])
        {
            try
            {
                using var certificate = X509Certificate2.CreateFromPem(server.CertificatePem, server.PrivateKeyPem);
                if (!certificate.HasPrivateKey)
                {
                    return "the private key does not belong to the certificate" + where;
                }

                if (server.ClientCaPem is { } ca && ClientCredentials.CertificatesProblem(ca) is { } caProblem)
                {
                    return $"the client CA {caProblem}{where}"; // the same PEM check as DestinationRule credentials
                }
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                return $"the certificate or private key is not valid PEM{where}: {e.Message}";
            }
        }

        return null;
    }

    private static X509Certificate2Collection Roots(string pem)
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPem(pem);
        return roots;
    }

    private sealed class Server
    {
        private readonly SslStreamCertificateContext _context;
        private readonly X509Certificate2Collection? _clientRoots;
        private readonly IReadOnlyList<string> _clientNames;
        private readonly SslApplicationProtocol[] _alpn;
        private readonly string _listener;
        private readonly TimeProvider _time;
        private readonly ILogger _log;

        public Server(ListenerTlsConfig tls, HttpProtocols protocols, string listener, TimeProvider time, ILogger log)
        {
            var chain = new X509Certificate2Collection();
            chain.ImportFromPem(tls.CertificatePem);
            var leaf = X509Certificate2.CreateFromPem(tls.CertificatePem, tls.PrivateKeyPem);
            _context = SslStreamCertificateContext.Create(leaf, new X509Certificate2Collection(chain.Skip(1).ToArray()), offline: true);
            _clientRoots = tls.ClientCaPem is { } ca ? Roots(ca) : null;
            _clientNames = tls.ClientSubjectAltNames ?? [];
            _alpn = MeshTls.Alpn(protocols);
            (_listener, _time, _log) = (listener, time, log);
        }

        public SslServerAuthenticationOptions Options(string client) => new()
        {
            ServerCertificateContext = _context,
            ApplicationProtocols = [.. _alpn],
            ClientCertificateRequired = _clientRoots is not null,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = _clientRoots is null ? null : (_, certificate, chain, _) => CheckClient(certificate, chain, client),
        };

        private bool CheckClient(X509Certificate? presented, X509Chain? chain, string client)
        {
            var certificate = presented as X509Certificate2 ?? (presented is null ? null : X509CertificateLoader.LoadCertificate(presented.GetRawCertData()));
            var problem = certificate is null ? "the client presented no certificate"
                : MeshCertificates.CheckChain(certificate, chain, _clientRoots, _time.GetUtcNow(), client: true) ?? ServerNames.Check(certificate, _clientNames);
            if (problem is not null)
            {
                MeshTlsLog.ClientCertificateRefused(_log, _listener, client, problem);
            }

            return problem is null;
        }
    }
}
