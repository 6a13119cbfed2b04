using System.Net;
using System.Net.Sockets;
using Trellis.Proxy.Http1;

namespace Trellis.Proxy.Upstream;

/// <summary>A plain TCP upstream connection: the socket itself, sends that the kernel takes at once costing no state machine.</summary>
internal sealed class TcpTransport(Socket socket) : IUpstreamTransport
{
    public string Remote => socket.RemoteEndPoint?.ToString() ?? string.Empty;

    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken token) => SocketSends.AllAsync(socket, data, token);

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken token) => socket.ReceiveAsync(buffer, SocketFlags.None, token);

    public void Dispose() => socket.Dispose();
}

/// <summary>Plain TCP with Nagle off, as every proxy connection is made today.</summary>
internal sealed class TcpConnector : IUpstreamConnector
{
    public static readonly TcpConnector Instance = new();

    public async ValueTask<(IUpstreamTransport? Transport, Exception? Error)> ConnectAsync(EndPoint endpoint, CancellationToken token)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
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
