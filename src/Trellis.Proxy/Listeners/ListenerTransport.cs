using Microsoft.AspNetCore.Server.Kestrel.Core;
using KestrelProtocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols;
using SnapshotProtocols = Trellis.Api.Snapshots.HttpProtocols;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// How a listener's connections are set up before HTTP runs on them. Today: cleartext with the
/// configured HTTP versions. This is where TLS and mTLS plug in: <c>listen.UseHttps(options =>
/// { options.ServerCertificateSelector = …; options.ClientCertificateMode = RequireCertificate;
/// options.ClientCertificateValidation = …SPIFFE check… })</c>, fed by the certificates a snapshot
/// carries. With TLS, ALPN chooses between HTTP/1.1 and HTTP/2.
/// </summary>
internal static class ListenerTransport
{
    public static void Configure(ListenOptions listen, SnapshotProtocols protocols)
    {
        listen.Protocols = Map(protocols);
    }

    public static KestrelProtocols Map(SnapshotProtocols protocols) => protocols switch
    {
        SnapshotProtocols.Http1 => KestrelProtocols.Http1,
        SnapshotProtocols.Http2 => KestrelProtocols.Http2,
        _ => KestrelProtocols.Http1AndHttp2,
    };
}
