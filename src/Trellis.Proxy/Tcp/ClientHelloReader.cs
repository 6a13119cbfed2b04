using System.Net.Sockets;

namespace Trellis.Proxy.Tcp;

/// <summary>What was read of a connection's first bytes: how many, and the ClientHello's server name and mesh ALPN if it was one.</summary>
internal readonly record struct ClientHelloRead(int Length, string? ServerName, bool MeshAlpn);

/// <summary>Reads a connection's first bytes off the socket until what they are is known (Envoy's <c>tls_inspector</c>).</summary>
internal static class ClientHelloReader
{
    /// <summary>
    /// Reads into <paramref name="buffer"/> (at least <see cref="TlsClientHello.MaxBytes"/> long) until the ClientHello is
    /// whole, it is clear the bytes are not TLS, the client stops sending, or <paramref name="wait"/> passes; then what is
    /// known (a client that said nothing: no name, no ALPN). The bytes read are the caller's to pass on.
    /// </summary>
    public static async Task<ClientHelloRead> ReadAsync(Socket client, byte[] buffer, TimeSpan wait, TimeProvider time, CancellationToken stop)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        using var timer = time.CreateTimer(static s => ((CancellationTokenSource)s!).Cancel(), timeout, wait, Timeout.InfiniteTimeSpan);
        var length = 0;
        try
        {
            while (length < TlsClientHello.MaxBytes)
            {
                var read = await client.ReceiveAsync(buffer.AsMemory(length, TlsClientHello.MaxBytes - length), SocketFlags.None, timeout.Token);
                if (read == 0)
                {
                    break;
                }

                length += read;
                var parse = TlsClientHello.TryRead(buffer.AsSpan(0, length), out var name, out var meshAlpn);
                if (parse != ClientHelloParse.Incomplete)
                {
                    return new ClientHelloRead(length, name, meshAlpn);
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A client that sends nothing in time, or goes away: what is known so far.
        }

        return new ClientHelloRead(length, null, false);
    }
}
