using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Trellis.Proxy.Security.Tls;

namespace Trellis.Proxy.Upstream;

/// <summary>
/// Opens mTLS connections: TCP through <paramref name="tcp"/> (its keep-alive settings), then a TLS 1.3 handshake as
/// <paramref name="identity"/> whose server must present one of <paramref name="expected"/> (Istio's secure naming), with
/// ALPN <paramref name="alpn"/> (the cluster's upstream protocol). One connector per (client identity, expected servers,
/// protocol, keep-alive), so the pool never lends one workload's connection to another. A refused handshake is a connect
/// failure with its reason logged; it never throws.
/// </summary>
internal sealed class TlsConnector(
    MeshTls tls, TcpConnector tcp, string identity, IReadOnlySet<string> expected, SslApplicationProtocol alpn, Func<SocketsHttpHandler> handlers) : IUpstreamConnector
{
    private HttpMessageInvoker? _invoker;

    public string Identity => identity;

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
                : throw new HttpRequestException(HttpRequestError.ConnectionError, "mTLS connect failed", error);
        };
        return new HttpMessageInvoker(handler, disposeHandler: true);
    });

    public async ValueTask<(IUpstreamTransport? Transport, Exception? Error)> ConnectAsync(EndPoint endpoint, CancellationToken token)
    {
        var slot = new PeerSlot();
        var options = tls.Client(identity, expected, alpn, (endpoint as IPEndPoint)?.Address.ToString() ?? string.Empty, slot);
        if (options is null)
        {
            MeshTlsLog.NoClientCertificate(tls.Log, endpoint.ToString() ?? string.Empty, identity);
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
            using var timeout = new CancellationTokenSource(MeshTls.HandshakeTimeout, tls.Time);
            using var linked = token.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timeout);
            await stream.AuthenticateAsClientAsync(options, timeout.Token);
            return (new TlsTransport(stream, socket, slot.Verdict.Peer!), null);
        }
        catch (Exception ex) when (ex is OperationCanceledException || TlsFailures.IsStreamFailure(ex) || ex is SocketException)
        {
            var reason = slot.Verdict.Error ?? ex.Message;
            MeshTlsLog.UpstreamHandshakeFailed(tls.Log, endpoint.ToString() ?? string.Empty, identity, reason);
            await stream.DisposeAsync();
            socket.Dispose();
            return (null, ex as OperationCanceledException ?? (Exception)new SocketException((int)SocketError.ConnectionRefused));
        }
    }
}
