using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Security;
using Trellis.Proxy.Security.Tls;
using Trellis.Proxy.Upstream;

namespace Trellis.Proxy.Tcp;

/// <summary>What an inbound relay makes of a connection's first bytes.</summary>
/// <param name="Client">The client's side to relay: the terminated mTLS stream, the plain socket, or null when the connection is refused.</param>
/// <param name="Peer">The mesh identity of an mTLS client; null for any other.</param>
/// <param name="Unread">How many of the bytes read are still to be relayed (0 when they were the mTLS handshake's).</param>
internal readonly record struct InboundAccept(IUpstreamTransport? Client, PeerIdentity? Peer, int Unread);

/// <summary>
/// The inbound relay's side of mesh mTLS, as Istio's inbound filter chains for TCP: the client's first bytes are read
/// (<see cref="TlsClientHello"/>). A ClientHello offering the mesh ALPN is mesh mTLS: handshaken as the workload (TLS 1.3,
/// a client certificate required and checked by <see cref="MeshTls"/>) and relayed decrypted. Anything else (cleartext,
/// the application's own TLS, or a client that says nothing in time, i.e. a server-first protocol) is relayed as it came
/// under PERMISSIVE and refused under STRICT. Never throws; a refusal is logged with its reason.
/// </summary>
internal static class TcpInboundMtls
{
    public static async Task<InboundAccept> AcceptAsync(Socket client, byte[] buffer, string listener, TcpRouteTable table, TcpServices services, CancellationToken stop)
    {
        var strict = table.InboundMtls == PeerAuthenticationMode.Strict;
        // A PERMISSIVE relay waits for a silent client only as long as protocol detection does (server-first protocols
        // speak after the accept); a STRICT one as long as a handshake may take.
        var wait = strict ? MeshTls.HandshakeTimeout : Capture.CapturedConnection.DetectionTimeout;
        var hello = await ClientHelloReader.ReadAsync(client, buffer, wait, services.Time, stop);
        var remote = (client.RemoteEndPoint as IPEndPoint)?.ToString() ?? string.Empty;
        if (!hello.MeshAlpn)
        {
            if (!strict)
            {
                return new InboundAccept(new TcpTransport(client), null, hello.Length);
            }

            MeshTlsLog.CleartextRefused(services.Log, listener, remote);
            return default;
        }

        var slot = new PeerSlot();
        if (table.Identity is not { } identity || services.Tls?.Server(identity, MeshTls.TcpOnly, slot) is not { } options)
        {
            MeshTlsLog.NoServerCertificate(services.Log, listener, table.Identity ?? "-", remote);
            return default;
        }

        // The hello was read off the socket: the handshake reads it again first, then the socket.
        var stream = new SslStream(new PrefixedStream(buffer, hello.Length, new NetworkStream(client, ownsSocket: false)), leaveInnerStreamOpen: false);
        using var timeout = new CancellationTokenSource(MeshTls.HandshakeTimeout, services.Time);
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
        try
        {
            await stream.AuthenticateAsServerAsync(options, abandon.Token);
            return new InboundAccept(new TlsTransport(stream, client, slot.Verdict.Peer), slot.Verdict.Peer, 0);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException || TlsFailures.IsStreamFailure(ex))
        {
            MeshTlsLog.HandshakeRefused(services.Log, listener, remote, slot.Verdict.Error ?? ex.Message);
            await stream.DisposeAsync();
            return default;
        }
    }
}
