using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Forwarding;

/// <summary>
/// The pooled HTTP clients that reach upstreams, one per upstream protocol, shared by every
/// cluster and kept across snapshots so that a config push never drops warm connections.
/// SocketsHttpHandler already pools per (scheme, host, port), so one handler serves all clusters;
/// when per-cluster transport settings arrive (mTLS identities, circuit breakers) the key becomes
/// that settings record instead of the protocol alone.
/// </summary>
internal sealed class UpstreamClients : IDisposable
{
    private readonly HttpMessageInvoker _http1;
    private readonly HttpMessageInvoker _http2;

    public UpstreamClients(ProxyServerOptions options)
    {
        _http1 = new HttpMessageInvoker(CreateHandler(options), disposeHandler: true);
        _http2 = new HttpMessageInvoker(CreateHandler(options), disposeHandler: true);
    }

    public HttpMessageInvoker For(UpstreamProtocol protocol) => protocol == UpstreamProtocol.Http2 ? _http2 : _http1;

    public void Dispose()
    {
        _http1.Dispose();
        _http2.Dispose();
    }

    /// <summary>A handler with the proxy's settings; mTLS HTTP/2 upstreams get one per connector (<see cref="Upstream.TlsConnector.Invoker"/>).</summary>
    internal static SocketsHttpHandler CreateHandler(ProxyServerOptions options) => Capture.OwnTraffic.Apply(new SocketsHttpHandler
    {
        // A proxy forwards what it receives: no proxying of its own, no redirects followed, no
        // decompression (bodies and Content-Encoding pass through as is), no cookie jar shared
        // between unrelated clients, and no trace headers injected by the handler.
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = System.Net.DecompressionMethods.None,
        UseCookies = false,
        ActivityHeadersPropagator = null,
        ConnectTimeout = options.ConnectTimeout,
        PooledConnectionIdleTimeout = options.PooledConnectionIdleTimeout,
        PooledConnectionLifetime = options.PooledConnectionLifetime,
        // More than 100 concurrent streams to one upstream must open another connection, not queue.
        EnableMultipleHttp2Connections = true,
        // The 64 KiB default window throttles large HTTP/2 downloads on fast links.
        InitialHttp2StreamWindowSize = 1024 * 1024,
    });
}
