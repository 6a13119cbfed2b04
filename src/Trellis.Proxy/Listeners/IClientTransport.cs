using System.Net.Sockets;
using Trellis.Proxy.Security;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// The byte stream of one client connection of a fast-path listener, whatever carries it: the plain socket
/// (<see cref="SocketClientTransport"/>) or mTLS (<see cref="TlsClientTransport"/>). The mirror of the upstream side's
/// <see cref="Upstream.IUpstreamTransport"/>: the HTTP/1.1 and HTTP/2 fast paths read and write only through this, so they
/// serve mTLS connections themselves. Failures surface as <see cref="SocketException"/>, as the socket's do.
/// </summary>
internal interface IClientTransport : IDisposable
{
    /// <summary>
    /// The connection's socket, for what looks below the byte stream: addresses, the kernel's pending error, a zero-byte
    /// read that waits for the client to send or leave, a lingering close that drains what arrives. Never for HTTP bytes.
    /// </summary>
    Socket Socket { get; }

    /// <summary>The verified identity of an mTLS peer; null on a cleartext connection.</summary>
    PeerIdentity? Peer { get; }

    /// <summary>Bytes read into <paramref name="buffer"/>, 0 at the end of the stream.</summary>
    ValueTask<int> ReceiveAsync(Memory<byte> buffer);

    /// <summary>Sends all of <paramref name="data"/>; throws <see cref="SocketException"/> on a broken connection.</summary>
    ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken token);

    /// <summary>A small send off the exchange's path (the HTTP/1.1 path's client probe), synchronous.</summary>
    void Send(ReadOnlySpan<byte> data);

    /// <summary>A graceful end of what we send (TLS: close_notify first), leaving the receive side open.</summary>
    void ShutdownSend();
}

/// <summary>A cleartext client connection: the socket itself. Every call is the socket's own, so the plaintext path costs what it did.</summary>
internal sealed class SocketClientTransport(Socket socket) : IClientTransport
{
    public Socket Socket => socket;

    public PeerIdentity? Peer => null;

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer) => socket.ReceiveAsync(buffer, SocketFlags.None);

    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken token) => Http1.SocketSends.AllAsync(socket, data, token);

    public void Send(ReadOnlySpan<byte> data) => socket.Send(data, SocketFlags.None);

    public void ShutdownSend() => socket.Shutdown(SocketShutdown.Send);

    public void Dispose() => socket.Dispose();
}
