using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Http2;
using Trellis.Proxy.Listeners;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Http1;

/// <summary>
/// The fast path of a cleartext listener: it owns the listening socket and serves each connection
/// with an <see cref="Http1Connection"/>, or an <see cref="Http2Connection"/> on an h2c listener;
/// either hands connections it does not serve itself to the listener's Kestrel server through
/// <see cref="Handoff"/>.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "StopAsync cancels _stopRelays; relays still ending may hold its token, so it is left to the collector.")]
internal sealed class Http1Listener
{
    private const int Backlog = 512;

    /// <summary>How often connections are checked for the keep-alive timeout and long exchanges (<see cref="IFastConnection.Sweep"/>).</summary>
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(1);

    /// <summary>After an h2c stream needed the Kestrel path, new h2c connections go to Kestrel for this long (see <see cref="PreferKestrelForHttp2"/>).</summary>
    private static readonly TimeSpan KestrelPreference = TimeSpan.FromSeconds(60);

    private readonly Socket _socket;
    private readonly ConcurrentDictionary<IFastConnection, byte> _connections = new();
    private readonly Task _accepting;
    private readonly ITimer _sweep;
    private readonly bool _http2;
    private readonly CancellationTokenSource _stopRelays = new();
    private long _kestrelPreferredSince = long.MinValue;
    private int _stopping;

    private Http1Listener(string name, bool http2, bool detectsH2c, Socket socket, Http1Services services, ListenerStats stats, HandoffTransport handoff, ListenerConfig config)
    {
        Name = name;
        Identity = config.Identity;
        Mtls = ListenerTransport.MeshTlsFor(config, services.Tls) is { } identity
            ? new MeshTlsAcceptor(services.Tls!, name, identity, config.Mtls, config.Protocols)
            : null;
        _http2 = http2;
        Capture = config.Capture;
        DetectsH2c = detectsH2c;
        _socket = socket;
        Services = services;
        Stats = stats;
        Handoff = handoff;
        BoundEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        // One-shot, re-armed by each sweep: a sweep never overlaps the next, whatever the clock.
        _sweep = services.Time.CreateTimer(static state => ((Http1Listener)state!).Sweep(), this, SweepInterval, Timeout.InfiniteTimeSpan);
        _accepting = AcceptAsync();
    }

    public string Name { get; }

    /// <summary>The SPIFFE ID of the listener's workload: its mTLS client certificate upstream; null for none.</summary>
    public string? Identity { get; }

    /// <summary>The mTLS side of the accept (its mode follows PeerAuthentication); null for a listener without a workload identity.</summary>
    public MeshTlsAcceptor? Mtls { get; }

    public Http1Services Services { get; }

    /// <summary>A capture listener: connections are redirected ones, sniffed first (<see cref="Capture.CapturedConnection"/>).</summary>
    public bool Capture { get; }

    public ListenerStats Stats { get; }

    public HandoffTransport Handoff { get; }

    /// <summary>On an <see cref="DetectsH2c"/> listener, where h2c connections for the Kestrel path go (its Kestrel speaks HTTP/1.1 only).</summary>
    public H2cHandoff? H2c { get; set; }

    public IPEndPoint BoundEndPoint { get; }

    public bool Stopping => Volatile.Read(ref _stopping) != 0;

    /// <summary>Cancelled when the listener stops: the connections it relays as bytes (captured TCP, CONNECT tunnels) end then.</summary>
    public CancellationToken RelaysStopping => _stopRelays.Token;

    /// <summary>An <c>Http1AndHttp2</c> listener: a connection that opens with the h2c preface is served as HTTP/2.</summary>
    public bool DetectsH2c { get; }

    /// <summary>
    /// Whether a listener can take the fast path: cleartext, and either one that speaks HTTP/1.1 or
    /// an h2c-only one (prior knowledge, see <see cref="ListenerTransport.Configure"/>); TLS stays with Kestrel.
    /// A capture listener always does: only the fast path holds the accepted socket, whose original destination it needs.
    /// </summary>
    public static bool Serves(ListenerConfig config, ProxyServerOptions options) =>
        config.Tls is null && (config.Capture || (config.Protocols == HttpProtocols.Http2 ? options.FastHttp2 : options.FastHttp1));

    /// <summary>Binds and starts accepting; a bind failure throws <see cref="SocketException"/> before anything runs.</summary>
    public static Http1Listener Start(ListenerConfig config, Http1Services services, ListenerStats stats, HandoffTransport handoff)
    {
        var address = IPAddress.Parse(config.Address);
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true; // as Kestrel does for [::]
            }

            socket.Bind(new IPEndPoint(address, config.Port));
            socket.Listen(Backlog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new Http1Listener(
            config.Name, config.Protocols == HttpProtocols.Http2, config.Protocols == HttpProtocols.Http1AndHttp2 && services.Options.FastHttp2, socket, services, stats, handoff, config);
    }

    /// <summary>
    /// An h2c stream needed what only the Kestrel path does (a target Kestrel normalizes, a route that
    /// changed since its connection began): it was refused, and the client's retry must reach
    /// Kestrel, so new h2c connections are handed over for a while.
    /// </summary>
    internal void PreferKestrelForHttp2() => Volatile.Write(ref _kestrelPreferredSince, Services.Time.GetTimestamp());

    internal bool KestrelPreferredForHttp2
    {
        get
        {
            var since = Volatile.Read(ref _kestrelPreferredSince);
            return since != long.MinValue && Services.Time.GetElapsedTime(since) < KestrelPreference;
        }
    }

    /// <summary>Takes over a connection that changed protocol (an h2c preface on an HTTP/1.1 connection) and starts it.</summary>
    internal void Adopt(IFastConnection connection)
    {
        _connections.TryAdd(connection, 0);
        connection.Start();
    }

    internal void Remove(IFastConnection connection) => _connections.TryRemove(connection, out _);

    /// <summary>
    /// Stops accepting, closes idle connections, lets busy ones finish their exchange within
    /// <paramref name="drainTimeout"/>, then cuts off the rest.
    /// </summary>
    public async Task StopAsync(TimeSpan drainTimeout)
    {
        if (Interlocked.Exchange(ref _stopping, 1) != 0)
        {
            return;
        }

        _socket.Dispose();
        _sweep.Dispose();
        await _accepting;
        await _stopRelays.CancelAsync();
        foreach (var connection in _connections.Keys)
        {
            connection.CloseIfIdle();
        }

        var running = Task.WhenAll(_connections.Keys.Select(c => c.Completion));
        try
        {
            await running.WaitAsync(drainTimeout, Services.Time);
        }
        catch (TimeoutException)
        {
            foreach (var connection in _connections.Keys)
            {
                connection.Abort();
            }

            await running;
        }
    }

    private void Sweep()
    {
        var now = Services.Time.GetTimestamp();
        foreach (var connection in _connections.Keys)
        {
            connection.Sweep(now);
        }

        if (!Stopping)
        {
            _sweep.Change(SweepInterval, Timeout.InfiniteTimeSpan);
        }
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync();
            }
            catch (SocketException) when (!Stopping)
            {
                // Out of file descriptors or a connection reset while queued: the listener goes on.
                await Task.Delay(TimeSpan.FromMilliseconds(10), Services.Time);
                continue;
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return; // stopped
            }

            client.NoDelay = true;
            if (Capture)
            {
                _ = AcceptCapturedAsync(client);
                continue;
            }

            if (Mtls is { } mtls)
            {
                _ = AcceptMeshAsync(mtls, client);
                continue;
            }

            Serve(new SocketClientTransport(client), _http2);
        }
    }

    /// <summary>Sniffs and handshakes off the accept loop (a slow client must not hold up the others), then serves.</summary>
    private async Task AcceptMeshAsync(MeshTlsAcceptor mtls, Socket client)
    {
        var transport = await mtls.AcceptAsync(client);
        if (transport is null || Stopping)
        {
            transport?.Dispose();
            client.Dispose();
            return;
        }

        Serve(transport, _http2 || MeshTlsAcceptor.NegotiatedHttp2(transport));
    }

    /// <summary>Sniffs off the accept loop; HTTP is served here, routed by its Host, anything else relayed to where it was going.</summary>
    private async Task AcceptCapturedAsync(Socket client)
    {
        var (original, protocol) = await Proxy.Capture.CapturedConnection.InspectAsync(client, Services.Time, _stopRelays.Token);
        if (original is null || original.Equals(BoundEndPoint) || Stopping)
        {
            // Connected to the listener itself: relaying it "to where it was going" would be a loop.
            Proxy.Capture.CapturedConnection.NotRedirected(Services.ForwardLog, Name, client.RemoteEndPoint?.ToString() ?? "-");
            client.Dispose();
            return;
        }

        if (protocol is Proxy.Capture.SniffedProtocol.Http1 or Proxy.Capture.SniffedProtocol.Http2)
        {
            Serve(new SocketClientTransport(client), _http2);
            return;
        }

        // A ServiceEntry's address on one of its TCP ports is that entry's (Istio's address filter chains); anything else
        // goes where it was going.
        if (Services.Tcp is { } tcp && Services.Snapshots.Current.DestinationsByListener.GetValueOrDefault(Name)?.Find(original.Address, original.Port) is { } entry)
        {
            await Proxy.Capture.CapturedConnection.RelayToEntryAsync(client, Name, entry, original, tcp, _stopRelays.Token);
            return;
        }

        await Proxy.Capture.CapturedConnection.RelayAsync(client, Name, original, Services.Time, Services.ForwardLog, _stopRelays.Token);
    }

    private void Serve(IClientTransport transport, bool http2)
    {
        IFastConnection connection = http2 ? new Http2Connection(transport, this) : new Http1Connection(transport, this);
        _connections.TryAdd(connection, 0);
        connection.Start();
    }
}
