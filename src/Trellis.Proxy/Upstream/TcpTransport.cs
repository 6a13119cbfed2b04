using System.Net;
using System.Net.Sockets;
using Trellis.Proxy.Http1;

namespace Trellis.Proxy.Upstream;

/// <summary>A plain TCP upstream connection: the socket itself, sends that the kernel takes at once costing no state machine.</summary>
internal sealed class TcpTransport(Socket socket) : IUpstreamTransport
{
    public string Remote => socket.RemoteEndPoint?.ToString() ?? string.Empty;

    /// <summary>The connected socket (a TLS connector runs its handshake over it; the TCP proxy's relay half-closes it).</summary>
    public Socket Socket => socket;

    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken token) => SocketSends.AllAsync(socket, data, token);

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken token) => socket.ReceiveAsync(buffer, SocketFlags.None, token);

    public ValueTask ShutdownSendAsync()
    {
        socket.Shutdown(SocketShutdown.Send);
        return ValueTask.CompletedTask;
    }

    public void Dispose() => socket.Dispose();
}

/// <summary>
/// Plain TCP with Nagle off, as every proxy connection is made; with a cluster's <c>tcp.tcpKeepalive</c>, kernel
/// keep-alive probes on its connections (one connector per distinct setting, so pooled connections of different
/// settings never mix).
/// </summary>
internal sealed class TcpConnector : IUpstreamConnector
{
    public static readonly TcpConnector Instance = new(null);

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Trellis.Api.Snapshots.TcpKeepaliveConfig, TcpConnector> WithKeepalive = new();

    private readonly Trellis.Api.Snapshots.TcpKeepaliveConfig? _keepalive;

    private TcpConnector(Trellis.Api.Snapshots.TcpKeepaliveConfig? keepalive) => _keepalive = keepalive;

    /// <summary>The connector for a cluster's keep-alive setting (null: the plain one).</summary>
    public static TcpConnector For(Trellis.Api.Snapshots.TcpKeepaliveConfig? keepalive) =>
        keepalive is null ? Instance : WithKeepalive.GetOrAdd(keepalive, static k => new TcpConnector(k));

    public async ValueTask<(IUpstreamTransport? Transport, Exception? Error)> ConnectAsync(EndPoint endpoint, CancellationToken token)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            Capture.OwnTraffic.Apply(socket); // never captured back to this proxy
            if (_keepalive is { } keepalive)
            {
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
                if (keepalive.Time is { } time)
                {
                    socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, (int)Math.Max(1, time.TotalSeconds));
                }

                if (keepalive.Interval is { } interval)
                {
                    socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, (int)Math.Max(1, interval.TotalSeconds));
                }

                if (keepalive.Probes is { } probes)
                {
                    socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, probes);
                }
            }

            await socket.ConnectAsync(endpoint, token);
            return (new TcpTransport(socket), null);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            return (null, ex);
        }
    }
}
