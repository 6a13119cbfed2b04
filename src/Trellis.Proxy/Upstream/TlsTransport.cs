using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Trellis.Proxy.Security;

namespace Trellis.Proxy.Upstream;

/// <summary>
/// A TLS upstream connection: an <see cref="SslStream"/> over the socket, with the server's verified mesh identity. Failures
/// of the stream (IOException, a TLS alert) surface as <see cref="SocketException"/>s, the failure every exchange path
/// already classifies, so the paths stay unaware of the transport.
/// </summary>
internal sealed class TlsTransport(SslStream stream, Socket socket, PeerIdentity? server) : IUpstreamTransport
{
    public string Remote { get; } = socket.RemoteEndPoint?.ToString() ?? string.Empty;

    /// <summary>The mesh identity the server presented (secure naming checked); null for a server outside the mesh (TLS origination).</summary>
    public PeerIdentity? Server => server;

    /// <summary>The TLS stream (an HTTP/2 client runs over it; disposing it closes the socket).</summary>
    public SslStream Stream => stream;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken token)
    {
        try
        {
            await stream.WriteAsync(data, token);
        }
        catch (Exception ex) when (TlsFailures.IsStreamFailure(ex))
        {
            throw TlsFailures.AsSocketException(ex);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken token)
    {
        try
        {
            return await stream.ReadAsync(buffer, token);
        }
        catch (Exception ex) when (TlsFailures.IsStreamFailure(ex))
        {
            throw TlsFailures.AsSocketException(ex);
        }
    }

    public async ValueTask ShutdownSendAsync()
    {
        try
        {
            await stream.ShutdownAsync(); // close_notify: the server reads the end of the TLS stream, not a truncation
        }
        catch (Exception ex) when (TlsFailures.IsStreamFailure(ex))
        {
            throw TlsFailures.AsSocketException(ex);
        }

        socket.Shutdown(SocketShutdown.Send);
    }

    public void Dispose()
    {
        stream.Dispose();
        socket.Dispose();
    }
}

/// <summary>How a TLS stream's failures map to the socket failures the exchange paths classify.</summary>
internal static class TlsFailures
{
    /// <summary>A broken stream: I/O errors, TLS alerts, a second operation on a stream whose first failed.</summary>
    public static bool IsStreamFailure(Exception ex) =>
        ex is IOException or System.Security.Authentication.AuthenticationException or InvalidOperationException or NotSupportedException;

    public static SocketException AsSocketException(Exception ex) =>
        ex.InnerException as SocketException ?? new SocketException((int)SocketError.ConnectionReset);
}
