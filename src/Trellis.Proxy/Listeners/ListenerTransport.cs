using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Trellis.Api.Snapshots;
using KestrelProtocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols;
using SnapshotProtocols = Trellis.Api.Snapshots.HttpProtocols;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// How a listener's connections are set up before HTTP runs on them: cleartext with the configured
/// HTTP versions, or TLS with the snapshot's certificate, where ALPN chooses between HTTP/1.1 and
/// HTTP/2. mTLS plugs in here too: <c>ClientCertificateMode = RequireCertificate</c> and a
/// validation callback checking the peer's SPIFFE identity.
/// </summary>
internal static class ListenerTransport
{
    /// <param name="mesh">mTLS between proxies; null in a proxy without it.</param>
    /// <param name="fronted">The fast path owns the socket (it sniffs and handshakes itself) and hands Kestrel connections
    /// already decrypted (an HTTP/2 one to the listener's h2c server).</param>
    /// <param name="log">Where TLS refusals of a gateway's MUTUAL servers are logged.</param>
    /// <param name="tcp">The TCP relay's services: with them, an outbound listener Kestrel serves itself tunnels HTTP CONNECT.</param>
    public static void Configure(
        ListenOptions listen, ListenerConfig config, Security.Tls.MeshTls? mesh = null, bool fronted = false, ILogger? log = null, Tcp.TcpServices? tcp = null)
    {
        if (config.Tls is { } tls)
        {
            listen.Protocols = Map(config.Protocols);
            var servers = new GatewayTlsServers(tls, config.Protocols, config.Name, TimeProvider.System, log ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
            listen.UseHttps(new TlsHandshakeCallbackOptions
            {
                OnConnection = context =>
                {
                    // The server name (SNI) chooses the certificate (an Istio Gateway port's servers) and the routes of the
                    // Gateway API listener it names (ListenerConfig.ServerNames); Kestrel does not keep it for the request
                    // (ITlsHandshakeFeature.HostName stays empty), so the connection does.
                    var serverName = context.ClientHelloInfo.ServerName;
                    if (!string.IsNullOrEmpty(serverName))
                    {
                        context.Connection.Items[ServerNameItem] = serverName;
                    }

                    return ValueTask.FromResult(servers.For(serverName, context.Connection.RemoteEndPoint?.ToString() ?? string.Empty));
                },
            });
            return;
        }

        if (!fronted && MeshTlsFor(config, mesh) is { } identity)
        {
            // A TLS connection says HTTP/2 by ALPN; a cleartext one (PERMISSIVE, DISABLE) is HTTP/1.1 to Kestrel, as below.
            listen.Protocols = Map(config.Protocols);
            MeshTlsKestrel.Use(listen, mesh!, config.Name, identity, config.Mtls, config.Protocols);
            return;
        }

        if (!fronted && tcp is not null && config.Kind == ListenerKind.Outbound && !config.Capture)
        {
            ConnectKestrel.Use(listen, config.Name, tcp); // the fast path, when it fronts, tunnels CONNECT itself
        }

        // Cleartext: Kestrel cannot detect h2c prior knowledge beside HTTP/1.1 on one endpoint, and
        // warns when asked to; state the HTTP/1.1 it would fall back to.
        listen.Protocols = config.Protocols == SnapshotProtocols.Http2 ? KestrelProtocols.Http2 : KestrelProtocols.Http1;
    }

    /// <summary>The connection item holding the server name a TLS client sent (SNI), for routing.</summary>
    public const string ServerNameItem = "trellis.serverName";

    /// <summary>
    /// What Kestrel's <c>UseHttps</c> resolves from the listener's services. Our listeners are bare
    /// KestrelServers without a host, so TLS listeners get a service provider made once, by the one
    /// public way to register Kestrel's HTTPS configuration (<c>UseKestrelHttpsConfiguration</c>).
    /// </summary>
    public static IServiceProvider HttpsServices => LazyHttpsServices.Value;

    private static readonly Lazy<IServiceProvider> LazyHttpsServices = new(() =>
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration();
#pragma warning disable ASP0000 // a provider for Kestrel's HTTPS services only, not a second application container
        return builder.Services.BuildServiceProvider();
#pragma warning restore ASP0000
    });

    /// <summary>
    /// The identity a listener may serve mTLS as (its mode, read per connection, may say not to); null for none: a
    /// workload's inbound listener, and a gateway port of Istio <c>ISTIO_MUTUAL</c> servers (its mode then says STRICT;
    /// other gateway listeners serve cleartext or their own certificates, and speak mTLS only upstream).
    /// </summary>
    public static string? MeshTlsFor(ListenerConfig config, Security.Tls.MeshTls? mesh) =>
        mesh is not null && config.Tls is null
            && (config.Kind == ListenerKind.Inbound || (config.Kind == ListenerKind.Gateway && config.Mtls != PeerAuthenticationMode.Disable))
            ? config.Identity
            : null;

    public static KestrelProtocols Map(SnapshotProtocols protocols) => protocols switch
    {
        SnapshotProtocols.Http1 => KestrelProtocols.Http1,
        SnapshotProtocols.Http2 => KestrelProtocols.Http2,
        _ => KestrelProtocols.Http1AndHttp2,
    };

    /// <summary>Why the TLS settings cannot be used, or null when they can (snapshot validation, so a bad one is NACKed).</summary>
    public static string? CheckCertificate(ListenerTlsConfig tls) => GatewayTlsServers.Check(tls);
}
