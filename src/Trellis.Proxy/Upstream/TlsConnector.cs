using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Trellis.Proxy.Security.Tls;

namespace Trellis.Proxy.Upstream;

/// <summary>
/// Opens TLS connections, the one client handshake path of the proxy: TCP through <paramref name="tcp"/> (its keep-alive
/// settings), then a handshake with what <paramref name="client"/> presents and accepts: mTLS as a workload identity whose
/// server must present one of the expected identities (Istio's secure naming), or TLS originated to an external server
/// (DestinationRule SIMPLE/MUTUAL). One connector per (client settings, expected servers, server name, protocol,
/// keep-alive), so the pool never lends one workload's connection to another. A refused handshake is a connect failure
/// with its reason logged; it never throws.
/// </summary>
internal sealed class TlsConnector(
    IUpstreamTls client, TcpConnector tcp, TimeProvider time, Func<SocketsHttpHandler> handlers) : IUpstreamConnector
{
    private HttpMessageInvoker? _invoker;

    /// <summary>
    /// The HTTP/2 client of this connector (the Kestrel path's HTTP/2 upstreams): SocketsHttpHandler's pool over
    /// connections this connector opens, h2 with prior knowledge inside the TLS session (ALPN h2). One per connector,
    /// so its pooled connections carry one workload's identity only.
    /// </summary>
    public HttpMessageInvoker Invoker => LazyInitializer.EnsureInitialized(ref _invoker, () =>
    {
        var handler = handlers();
        handler.ConnectCallback = async (context, token) =>
        {
            var endpoint = IPAddress.TryParse(context.DnsEndPoint.Host, out var address)
                ? new IPEndPoint(address, context.DnsEndPoint.Port)
                : (EndPoint)context.DnsEndPoint;
            var (transport, error) = await ConnectAsync(endpoint, token);
            return transport is TlsTransport secured
                ? secured.Stream
                : throw new HttpRequestException(HttpRequestError.ConnectionError, "TLS connect failed", error);
        };
        return new HttpMessageInvoker(handler, disposeHandler: true);
    });

    public async ValueTask<(IUpstreamTransport? Transport, Exception? Error)> ConnectAsync(EndPoint endpoint, CancellationToken token)
    {
        var slot = new PeerSlot();
        if (client.Options(endpoint, slot) is not { } options)
        {
            return (null, new SocketException((int)SocketError.AccessDenied));
        }

        var (plain, error) = await tcp.ConnectAsync(endpoint, token);
        if (plain is not TcpTransport { Socket: var socket })
        {
            return (null, error);
        }

        var stream = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        try
        {
            using var timeout = new CancellationTokenSource(MeshTls.HandshakeTimeout, time);
            using var linked = token.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timeout);
            await stream.AuthenticateAsClientAsync(options, timeout.Token);
            return (new TlsTransport(stream, socket, slot.Verdict.Peer), null);
        }
        catch (Exception ex) when (ex is OperationCanceledException || TlsFailures.IsStreamFailure(ex) || ex is SocketException)
        {
            var reason = slot.Verdict.Error ?? ex.Message;
            client.Failed(endpoint.ToString() ?? string.Empty, reason);
            await stream.DisposeAsync();
            socket.Dispose();
            return (null, ex as OperationCanceledException ?? (Exception)new SocketException((int)SocketError.ConnectionRefused));
        }
    }
}
