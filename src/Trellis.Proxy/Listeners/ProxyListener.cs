using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Http1;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// One listener = one Kestrel server, because Kestrel cannot add or remove endpoints while it
/// runs; a listener that changes is replaced while the others keep serving untouched. Built from
/// KestrelServer directly (no generic host, DI container or middleware pipeline) to keep a
/// listener's start cheap. A cleartext HTTP/1.1 listener puts the fast path (<see cref="Http1Listener"/>)
/// in front: it owns the socket and gives Kestrel only the connections it does not serve itself.
/// </summary>
internal sealed class ProxyListener : IAsyncDisposable
{
    private static readonly IServiceProvider NoServices = new ServiceCollection().BuildServiceProvider();

    private readonly KestrelServer? _server;
    private readonly Http1Listener? _fast;
    private readonly Tcp.TcpProxyListener? _tcp;
    private readonly ILogger _logger;
    private readonly TimeSpan _drainTimeout;
    private int _stopped;

    private ProxyListener(
        ListenerConfig config, KestrelServer server, Http1Listener? fast, IPEndPoint boundEndPoint, ListenerStats stats, ILogger logger, TimeSpan drainTimeout)
    {
        Config = config;
        _server = server;
        _fast = fast;
        BoundEndPoint = boundEndPoint;
        Stats = stats;
        _logger = logger;
        _drainTimeout = drainTimeout;
    }

    private ProxyListener(ListenerConfig config, Tcp.TcpProxyListener tcp, TimeSpan drainTimeout, ILogger logger)
    {
        Config = config;
        _tcp = tcp;
        BoundEndPoint = tcp.BoundEndPoint;
        Stats = new ListenerStats();
        _logger = logger;
        _drainTimeout = drainTimeout;
    }

    public ListenerConfig Config { get; }

    /// <summary>The address actually bound; differs from the config when it asked for port 0.</summary>
    public IPEndPoint BoundEndPoint { get; }

    public ListenerStats Stats { get; }

    /// <summary>Whether <paramref name="next"/> can be served by this listener without rebinding.</summary>
    public bool CanServe(ListenerConfig next) =>
        next.Address == Config.Address && next.Port == Config.Port && next.Protocols == Config.Protocols && next.Tls == Config.Tls
        && next.Identity == Config.Identity // the PeerAuthentication mode is read per connection: a change needs no rebind
        && (next.Tcp is null) == (Config.Tcp is null) && next.Capture == Config.Capture;

    /// <summary>A listener that relays TCP (<see cref="ListenerConfig.Tcp"/>) instead of serving HTTP.</summary>
    public static ProxyListener StartTcp(ListenerConfig config, Tcp.TcpServices services, ILoggerFactory loggerFactory) =>
        new(config, Tcp.TcpProxyListener.Start(config, services), services.Options.ListenerDrainTimeout, loggerFactory.CreateLogger<ProxyListener>());

    public static async Task<ProxyListener> StartAsync(
        ListenerConfig config,
        ProxyServerOptions options,
        ILoggerFactory loggerFactory,
        Func<ListenerStats, RequestDelegate> createHandler,
        Http1Services? fastPath,
        CancellationToken cancellationToken)
    {
        var fronted = fastPath is not null && Http1Listener.Serves(config, options);
        var kestrelTls = config.Tls is not null || (!fronted && ListenerTransport.MeshTlsFor(config, fastPath?.Tls) is not null);
        KestrelServerOptions KestrelOptions()
        {
            var kestrel = new KestrelServerOptions
            {
                AddServerHeader = false,
                ApplicationServices = kestrelTls ? ListenerTransport.HttpsServices : NoServices,
                // Absolute-form targets (HTTP_PROXY use) route by the target's authority even if a client
                // sent a Host header that disagrees, as RFC 9112 §3.2.2 says a server must.
                AllowHostHeaderOverride = true,
                // A mesh peer speaks h2 inside mTLS with the application's :scheme (http), as Envoy's sidecars do;
                // Kestrel would otherwise reset every such stream (PROTOCOL_ERROR) for not saying https.
                AllowAlternateSchemes = config.Kind == ListenerKind.Inbound,
            };
            // Bodies are streamed, never held, so there is nothing for a size limit to protect.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.Http2.MaxStreamsPerConnection = options.MaxHttp2StreamsPerConnection;
            // Proxied streams carry whole bodies; windows larger than the defaults keep fast links busy.
            kestrel.Limits.Http2.InitialConnectionWindowSize = 2 * 1024 * 1024;
            kestrel.Limits.Http2.InitialStreamWindowSize = 1024 * 1024;
            return kestrel;
        }

        var kestrel = KestrelOptions();

        ListenOptions? listen = null;
        kestrel.Listen(IPAddress.Parse(config.Address), config.Port, l =>
        {
            listen = l;
            ListenerTransport.Configure(l, config, fastPath?.Tls, fronted, loggerFactory.CreateLogger("Trellis.Proxy.MeshTls"), fastPath?.Tcp);
        });

        // Inline scheduling (on by default, see ProxyServerOptions.InlineScheduling) runs the request
        // on the thread that completed the socket read instead of hopping through Kestrel's IO queues;
        // it is "unsafe" only for applications that block in the request delegate.
        var socketOptions = new SocketTransportOptions { UnsafePreferInlineScheduling = options.InlineScheduling };
        var stats = new ListenerStats();
        // Made before either path accepts a connection: it starts the listener's load tracking.
        var handler = createHandler(stats);
        Http1Listener? fast = null;
        IConnectionListenerFactory transport;
        if (fastPath is not null && Http1Listener.Serves(config, options))
        {
            // Kestrel binds nothing here: its connections are the ones the fast path hands over.
            var handoff = new HandoffTransport(socketOptions, loggerFactory);
            fast = Http1Listener.Start(config, fastPath, stats, handoff);
            transport = handoff;
            if (fast.DetectsH2c)
            {
                fast.H2c = new H2cHandoff(KestrelOptions, fast.BoundEndPoint, socketOptions, loggerFactory, new ProxyApplication(handler));
            }
        }
        else
        {
            transport = new SocketTransportFactory(Options.Create(socketOptions), loggerFactory);
        }

        var server = new KestrelServer(Options.Create(kestrel), transport, loggerFactory);
        try
        {
            await server.StartAsync(new ProxyApplication(handler), cancellationToken);
        }
        catch
        {
            if (fast is not null)
            {
                await fast.StopAsync(TimeSpan.Zero);
            }

            server.Dispose();
            throw;
        }

        var bound = fast?.BoundEndPoint ?? (listen?.IPEndPoint is { Port: > 0 } endPoint ? endPoint : ParseBoundAddress(server));
        var logger = loggerFactory.CreateLogger<ProxyListener>();
        ProxyLog.ListenerStarted(logger, config.Name, bound, config.Protocols.ToString());
        return new ProxyListener(config, server, fast, bound, stats, logger, options.ListenerDrainTimeout);
    }

    /// <summary>Stops accepting, lets in-flight requests finish within the drain timeout, then aborts the rest.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        if (_tcp is not null)
        {
            await _tcp.StopAsync(_drainTimeout);
            return;
        }

        try
        {
            using var drain = new CancellationTokenSource(_drainTimeout);
            var fastStopped = _fast?.StopAsync(_drainTimeout) ?? Task.CompletedTask;
            var h2cStopped = _fast?.H2c?.StopAsync(drain.Token) ?? Task.CompletedTask;
            await _server!.StopAsync(drain.Token);
            await fastStopped;
            await h2cStopped;
            ProxyLog.ListenerStopped(_logger, Config.Name, BoundEndPoint);
        }
        catch (Exception ex)
        {
            ProxyLog.ListenerStopFailed(_logger, Config.Name, ex);
        }
        finally
        {
            _server!.Dispose();
            if (_fast?.H2c is { } h2c)
            {
                await h2c.DisposeAsync();
            }
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private static IPEndPoint ParseBoundAddress(KestrelServer server)
    {
        var address = server.Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var uri = new Uri(address);
        return new IPEndPoint(IPAddress.Parse(uri.Host.Trim('[', ']')), uri.Port);
    }
}
