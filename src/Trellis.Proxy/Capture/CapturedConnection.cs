using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Trellis.Proxy.Tcp;
using Trellis.Proxy.Upstream;

namespace Trellis.Proxy.Capture;

/// <summary>
/// A connection the capture rules redirected to a capture listener (<see cref="Api.Snapshots.ListenerConfig.Capture"/>),
/// Istio's outbound capture on port 15001 in three steps: (1) the original destination (<see cref="OriginalDestination"/>);
/// (2) what the client speaks, from its first bytes, read with <c>MSG_PEEK</c> so they stay in the socket for whoever
/// serves it (<see cref="ProtocolSniffer"/>); (3) HTTP is served by the listener like any outbound request, routed by
/// its Host; anything else is relayed to the original destination (Istio's <c>PassthroughCluster</c>).
/// </summary>
internal static partial class CapturedConnection
{
    /// <summary>
    /// How long a client that says nothing is waited for before it is taken for a server-first protocol (MySQL, SMTP)
    /// and relayed: Istio's <c>protocolDetectionTimeout</c> was 100 ms; a loaded host gets more here.
    /// </summary>
    public static readonly TimeSpan DetectionTimeout = TimeSpan.FromMilliseconds(500);

    // The longest thing the sniffer needs to see whole: the 24-byte HTTP/2 preface.
    private const int SniffBytes = 24;

    /// <summary>Steps (1) and (2): the original destination (null: the connection was not redirected) and the protocol.</summary>
    public static async Task<(IPEndPoint? Original, SniffedProtocol Protocol)> InspectAsync(Socket client, TimeProvider time, CancellationToken stop)
    {
        var original = OriginalDestination.Of(client);
        var buffer = new byte[SniffBytes];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        using var timer = time.CreateTimer(static s => ((CancellationTokenSource)s!).Cancel(), timeout, DetectionTimeout, Timeout.InfiniteTimeSpan);
        try
        {
            while (true)
            {
                var read = await client.ReceiveAsync(buffer, SocketFlags.Peek, timeout.Token);
                var protocol = read == 0 ? SniffedProtocol.Other : ProtocolSniffer.Classify(buffer.AsSpan(0, read));
                if (protocol != SniffedProtocol.NeedMore || read == buffer.Length)
                {
                    return (original, protocol == SniffedProtocol.NeedMore ? SniffedProtocol.Other : protocol);
                }

                // A peek returns at once while bytes wait: the rest of the request line is given a moment to arrive.
                await Task.Delay(TimeSpan.FromMilliseconds(1), time, timeout.Token);
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            return (original, SniffedProtocol.Other); // silent client (server-first), or gone: relayed, which then ends
        }
    }

    /// <summary>Step (3) for what is not HTTP: an opaque relay to where the client was going, on a marked connection.</summary>
    public static async Task RelayAsync(Socket client, string listener, IPEndPoint original, TimeProvider time, ILogger log, CancellationToken stop)
    {
        var started = time.GetTimestamp();
        using (client)
        {
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
            connectTimeout.CancelAfter(TcpServices.DefaultConnectTimeout);
            var (transport, error) = await TcpConnector.Instance.ConnectAsync(original, connectTimeout.Token);
            if (transport is null)
            {
                TcpLog.ConnectFailed(log, listener, Passthrough, original.ToString(), error?.Message ?? "no transport");
                return;
            }

            using (transport)
            {
                var result = await TcpRelay.RunAsync(new TcpTransport(client), transport, ReadOnlyMemory<byte>.Empty, new TcpRelayLimits(TcpServices.DefaultIdleTimeout, null), null, time, stop);
                TcpLog.Closed(log, listener, Passthrough, Passthrough, original.ToString(), result.End, result.Received, result.Sent,
                    (long)time.GetElapsedTime(started).TotalMilliseconds);
            }
        }
    }

    /// <summary>
    /// Step (3) for a connection to a ServiceEntry's <c>addresses</c> on one of its TCP ports: relayed by the entry's routes
    /// (its cluster's endpoints, balancing, connection pool, metrics) as any TCP listener relays, the original destination
    /// standing for where a passthrough (resolution <c>NONE</c>) goes.
    /// </summary>
    public static async Task RelayToEntryAsync(Socket client, string listener, TcpRouteTable routes, IPEndPoint original, TcpServices tcp, CancellationToken stop)
    {
        using (client)
        {
            var hop = new TcpHop(listener, "-", routes.Identity, false, tcp, tcp.Telemetry.Listener(listener), tcp.Time.GetTimestamp());
            var local = (client.LocalEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
            var remote = (client.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
            await TcpConnection.RouteAndRelayAsync(
                new TcpTransport(client), routes, hop, new TcpArrival(null, local, remote, null, (original.Address.ToString(), original.Port)), ReadOnlyMemory<byte>.Empty, null, stop);
        }
    }

    /// <summary>Istio's name for the cluster of connections to destinations outside the mesh.</summary>
    private const string Passthrough = "PassthroughCluster";

    [LoggerMessage(EventId = 606, Level = LogLevel.Debug, Message = "{Listener}: connection from {Client} was not redirected to it (no original destination): closed")]
    public static partial void NotRedirected(ILogger logger, string listener, string client);
}
