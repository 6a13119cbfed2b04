using System.Net;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Http2;

/// <summary>Proxies with one h2c (Http2-only) listener, as the HTTP/2 fast path serves them.</summary>
internal static class H2Setup
{
    public const string Ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    public static ProxySnapshot Http2(ProxySnapshot snapshot) =>
        snapshot with { Listeners = [Snapshots.Listener(protocols: HttpProtocols.Http2)] };

    /// <summary>Everything to <paramref name="endpoint"/>, on an h2c listener.</summary>
    public static Task<ProxyHarness> StartAsync(EndpointConfig endpoint, ProxyServerOptions? options = null, TimeProvider? time = null) =>
        ProxyHarness.StartAsync(Http2(Snapshots.ToCluster("1", endpoint)), options, time: time);

    /// <summary>An HttpClient that speaks h2c with prior knowledge; one connection unless <paramref name="oneConnection"/> is false.</summary>
    public static HttpClient H2cClient(Uri baseAddress, bool oneConnection = true) =>
        new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, EnableMultipleHttp2Connections = !oneConnection })
        {
            BaseAddress = baseAddress,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(30),
        };
}
