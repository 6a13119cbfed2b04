using Trellis.Api.Networking;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// The TLS servers of one Istio Gateway port (<c>tls.mode</c> SIMPLE or MUTUAL, <c>credentialName</c> in the Gateway's
/// namespace, read as istiod's SDS reads it, <see cref="ClientCredentials.Read"/>: a MUTUAL server's client CA is the
/// Secret's <c>ca.crt</c>, <c>cacert</c> or a <c>&lt;credentialName&gt;-cacert</c> Secret). The first server is the port's
/// default; with several, each is also chosen by its hosts (SNI).
/// </summary>
internal static class GatewayServerTls
{
    /// <summary>
    /// The port's TLS settings; null when it has no TLS server. <paramref name="unusable"/> when a server's credential is
    /// missing or incomplete (a MUTUAL server without a CA): then the port is not served at all, never in cleartext.
    /// </summary>
    public static ListenerTlsConfig? Port(IEnumerable<(string Namespace, Server Server)> servers, MeshIndex index, out bool unusable)
    {
        unusable = false;
        var found = new List<ServerNameTlsConfig>();
        foreach (var (ns, server) in servers)
        {
            if (server.Tls is not { } tls || (tls.Mode is null && tls.CredentialName is null))
            {
                continue; // cleartext server (possibly with httpsRedirect)
            }

            if (For(ns, tls, index) is not { } config)
            {
                unusable = true;
                return null;
            }

            found.Add(new ServerNameTlsConfig(server.Hosts.Select(HostName).ToList(), config));
        }

        return found.Count switch
        {
            0 => null,
            1 => found[0].Tls,
            _ => found[0].Tls with { ServerNames = found },
        };
    }

    /// <summary>
    /// Whether the port's servers are all <c>tls.mode: ISTIO_MUTUAL</c>: the gateway then takes mesh mTLS only, presenting
    /// its own workload certificate and asking for a client certificate of the mesh (Istio's east-west gateways).
    /// </summary>
    public static bool MeshMutual(IReadOnlyCollection<Server> servers) =>
        servers.Count > 0 && servers.All(s => s.Tls?.Mode == ServerTlsMode.IstioMutual);

    private static ListenerTlsConfig? For(string ns, ServerTlsSettings tls, MeshIndex index)
    {
        if (tls.Mode is not (null or ServerTlsMode.Simple or ServerTlsMode.Mutual) || tls.CredentialName is not { } name
            || ClientCredentials.Read(n => index.Secrets.GetValueOrDefault((ns, n)), name) is not ({ } cert, { } key, var ca))
        {
            return null;
        }

        return tls.Mode != ServerTlsMode.Mutual ? new ListenerTlsConfig(cert, key)
            : ca is null ? null
            : new ListenerTlsConfig(cert, key, ca, tls.SubjectAltNames.Count > 0 ? tls.SubjectAltNames : null);
    }

    /// <summary>A server host without its namespace (<c>ns/host</c> → <c>host</c>); <c>*</c> matches any server name.</summary>
    private static string HostName(string host) => host.IndexOf('/') is var slash and >= 0 ? host[(slash + 1)..] : host;
}
