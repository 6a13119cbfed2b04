using System.Net;
using System.Net.Security;
using Trellis.Proxy.Security.Tls;

namespace Trellis.Proxy.Upstream;

/// <summary>
/// What one kind of upstream TLS presents and accepts, for <see cref="TlsConnector"/>'s one handshake path: the mesh's
/// mTLS as a workload identity (<see cref="MeshClientTls"/>), or TLS originated with the user's settings
/// (<see cref="OriginationClientTls"/>, DestinationRule SIMPLE and MUTUAL).
/// </summary>
internal interface IUpstreamTls
{
    /// <summary>
    /// The options of one handshake to <paramref name="endpoint"/>, whose validation callback leaves its verdict in
    /// <paramref name="slot"/>; null when no handshake can be made (the refusal is logged here).
    /// </summary>
    SslClientAuthenticationOptions? Options(EndPoint endpoint, PeerSlot slot);

    /// <summary>Logs a handshake that failed (the server refused us, or we refused its certificate for <paramref name="reason"/>).</summary>
    void Failed(string upstream, string reason);
}

/// <summary>mTLS between proxies as <paramref name="identity"/>, towards servers that must be one of <paramref name="expected"/> (secure naming).</summary>
internal sealed class MeshClientTls(MeshTls tls, string identity, IReadOnlySet<string> expected, SslApplicationProtocol alpn, string? sni) : IUpstreamTls
{
    public SslClientAuthenticationOptions? Options(EndPoint endpoint, PeerSlot slot)
    {
        // The server name is only sent when the DestinationRule names one (tls.sni); mesh servers do not read it.
        var options = tls.Client(identity, expected, alpn, sni ?? (endpoint as IPEndPoint)?.Address.ToString() ?? string.Empty, slot);
        if (options is null)
        {
            MeshTlsLog.NoClientCertificate(tls.Log, endpoint.ToString() ?? string.Empty, identity);
        }

        return options;
    }

    public void Failed(string upstream, string reason) => MeshTlsLog.UpstreamHandshakeFailed(tls.Log, upstream, identity, reason);
}

/// <summary>TLS originated to a server outside the mesh (DestinationRule SIMPLE/MUTUAL), sending <paramref name="serverName"/>.</summary>
internal sealed class OriginationClientTls(OriginationTls tls, string? serverName, SslApplicationProtocol alpn) : IUpstreamTls
{
    public SslClientAuthenticationOptions? Options(EndPoint endpoint, PeerSlot slot)
    {
        var options = tls.Options(serverName, alpn, slot);
        if (options is null)
        {
            MeshTlsLog.OriginationRefused(tls.Environment.Log, endpoint.ToString() ?? string.Empty, tls.Problem ?? string.Empty);
        }

        return options;
    }

    public void Failed(string upstream, string reason) => MeshTlsLog.OriginationFailed(tls.Environment.Log, upstream, serverName ?? "(none)", reason);
}
