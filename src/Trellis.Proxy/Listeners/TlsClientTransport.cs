using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Trellis.Proxy.Security;
using Trellis.Proxy.Upstream;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// An mTLS client connection after its handshake (<see cref="MeshTlsAcceptor"/>): reads and writes go through the
/// <see cref="SslStream"/>, failures surface as <see cref="SocketException"/> as the socket's would.
/// </summary>
internal sealed class TlsClientTransport(SslStream stream, Socket socket, PeerIdentity peer) : IClientTransport
{
    public Socket Socket => socket;

    public PeerIdentity? Peer => peer;

    public SslStream Stream => stream;

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer)
    {
        var read = stream.ReadAsync(buffer);
        return read.IsCompletedSuccessfully ? read : AwaitReceiveAsync(read);
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken token)
    {
        var write = stream.WriteAsync(data, token);
        return write.IsCompletedSuccessfully ? default : AwaitSendAsync(write);
    }

    public void Send(ReadOnlySpan<byte> data)
    {
        try
        {
            stream.Write(data);
        }
        catch (Exception ex) when (TlsFailures.IsStreamFailure(ex))
        {
            throw TlsFailures.AsSocketException(ex);
        }
    }

    public void ShutdownSend()
    {
        try
        {
            // close_notify, then the FIN: a TLS peer reads a clean end of stream, not a truncation.
            stream.ShutdownAsync().Wait(TimeSpan.FromSeconds(1));
        }
        catch (Exception ex) when (TlsFailures.IsStreamFailure(ex) || ex is AggregateException)
        {
            // The peer is gone already: the socket's shutdown below says the rest.
        }

        socket.Shutdown(SocketShutdown.Send);
    }

    public void Dispose()
    {
        stream.Dispose();
        socket.Dispose();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<int> AwaitReceiveAsync(ValueTask<int> read)
    {
        try
        {
            return await read;
        }
        catch (Exception ex) when (TlsFailures.IsStreamFailure(ex))
        {
            throw TlsFailures.AsSocketException(ex);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask AwaitSendAsync(ValueTask write)
    {
        try
        {
            await write;
        }
        catch (Exception ex) when (TlsFailures.IsStreamFailure(ex))
        {
            throw TlsFailures.AsSocketException(ex);
        }
    }
}
