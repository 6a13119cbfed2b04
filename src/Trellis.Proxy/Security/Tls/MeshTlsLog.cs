using Microsoft.Extensions.Logging;

namespace Trellis.Proxy.Security.Tls;

/// <summary>Log events of upstream and downstream TLS (mTLS between proxies, TLS origination); ids 5xx, stable and never reused (see <c>ProxyLog</c> for the other ranges).</summary>
internal static partial class MeshTlsLog
{
    [LoggerMessage(EventId = 500, Level = LogLevel.Warning, Message = "Listener {Listener} refused a cleartext connection from {Client}: mTLS is STRICT (PeerAuthentication)")]
    public static partial void CleartextRefused(ILogger logger, string listener, string client);

    [LoggerMessage(EventId = 501, Level = LogLevel.Warning, Message = "Listener {Listener} refused the mTLS handshake of {Client}: {Reason}")]
    public static partial void HandshakeRefused(ILogger logger, string listener, string client, string reason);

    [LoggerMessage(EventId = 502, Level = LogLevel.Warning, Message = "Listener {Listener} holds no certificate for {Identity}: {Client} cannot be served over mTLS")]
    public static partial void NoServerCertificate(ILogger logger, string listener, string identity, string client);

    [LoggerMessage(EventId = 503, Level = LogLevel.Warning, Message = "mTLS to {Upstream} as {Identity} failed: {Reason}")]
    public static partial void UpstreamHandshakeFailed(ILogger logger, string upstream, string identity, string reason);

    [LoggerMessage(EventId = 504, Level = LogLevel.Warning, Message = "mTLS to {Upstream} is required (ISTIO_MUTUAL) but this proxy holds no certificate for {Identity}")]
    public static partial void NoClientCertificate(ILogger logger, string upstream, string identity);

    [LoggerMessage(EventId = 505, Level = LogLevel.Warning, Message = "TLS origination to {Upstream} (server name {ServerName}) failed: {Reason}")]
    public static partial void OriginationFailed(ILogger logger, string upstream, string serverName, string reason);

    [LoggerMessage(EventId = 506, Level = LogLevel.Warning, Message = "TLS origination to {Upstream} refused: the DestinationRule's TLS settings are unusable: {Reason}")]
    public static partial void OriginationRefused(ILogger logger, string upstream, string reason);

    [LoggerMessage(EventId = 507, Level = LogLevel.Warning, Message = "Listener {Listener} refused the client certificate of {Client} (tls.mode MUTUAL): {Reason}")]
    public static partial void ClientCertificateRefused(ILogger logger, string listener, string client, string reason);
}
