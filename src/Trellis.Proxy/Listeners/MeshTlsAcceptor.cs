using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Security.Tls;
using Trellis.Proxy.Upstream;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// The mTLS side of an inbound listener's accept: under PERMISSIVE, peeks at the first bytes and lets cleartext through
/// (<see cref="SocketClientTransport"/>); under STRICT, closes a cleartext connection with a log line; a TLS one is
/// handshaken as the workload's identity, with a client certificate required and checked (<see cref="PeerCertificates"/>).
/// Returns null, never throws, for a connection that is refused or goes away; the caller closes the socket.
/// </summary>
internal sealed class MeshTlsAcceptor(MeshTls tls, string listener, string identity, PeerAuthenticationMode initial, HttpProtocols protocols)
{
    /// <summary>The listener's mode now (PeerAuthentication changes apply to new connections).</summary>
    public PeerAuthenticationMode Mode => tls.ModeOf(listener, initial);

    public async Task<IClientTransport?> AcceptAsync(Socket client)
    {
        var mode = Mode;
        if (mode == PeerAuthenticationMode.Disable)
        {
            return new SocketClientTransport(client);
        }

        var remote = (client.RemoteEndPoint as IPEndPoint)?.ToString() ?? string.Empty;
        using var timeout = new CancellationTokenSource(MeshTls.HandshakeTimeout, tls.Time);
        var first = new byte[2];
        int peeked;
        try
        {
            peeked = await client.ReceiveAsync(first, SocketFlags.Peek, timeout.Token);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return null;
        }

        var tlsFirst = Tcp.TlsClientHello.StartsHandshake(first.AsSpan(0, peeked));
        if (tlsFirst is null)
        {
            return null; // closed before a byte
        }

        if (tlsFirst == false)
        {
            if (mode == PeerAuthenticationMode.Strict)
            {
                MeshTlsLog.CleartextRefused(tls.Log, listener, remote);
                return null;
            }

            return new SocketClientTransport(client);
        }

        var slot = new PeerSlot();
        if (tls.Server(identity, protocols, slot) is not { } options)
        {
            MeshTlsLog.NoServerCertificate(tls.Log, listener, identity, remote);
            return null;
        }

        var stream = new SslStream(new NetworkStream(client, ownsSocket: false), leaveInnerStreamOpen: false);
        try
        {
            await stream.AuthenticateAsServerAsync(options, timeout.Token);
            return new TlsClientTransport(stream, client, slot.Verdict.Peer!);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException || TlsFailures.IsStreamFailure(ex))
        {
            MeshTlsLog.HandshakeRefused(tls.Log, listener, remote, slot.Verdict.Error ?? ex.Message);
            await stream.DisposeAsync();
            return null;
        }
    }

    /// <summary>Whether a handshaken connection speaks HTTP/2 (ALPN h2).</summary>
    public static bool NegotiatedHttp2(IClientTransport transport) =>
        transport is TlsClientTransport tls && tls.Stream.NegotiatedApplicationProtocol == SslApplicationProtocol.Http2;
}
