using System.Net;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Trellis.Proxy;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Routing;

namespace Trellis.Benchmarks;

/// <summary>
/// Building the upstream request from a typical browser-ish request (URI, method, end-to-end
/// headers, x-forwarded-*), and copying a typical upstream response's headers back.
/// </summary>
[MemoryDiagnoser]
public class HeaderCopyBenchmarks
{
    private readonly RequestMessageFactory _factory = new();
    private readonly HttpForwarder _forwarder = new(new ProxyServerOptions(), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
    private readonly CompiledRoute _route;
    private readonly ClusterState _cluster = Fixtures.Cluster("details");
    private readonly EndpointState _endpoint;
    private readonly DefaultHttpContext _request = CreateRequest();
    private readonly DefaultHttpContext _response = new();
    private readonly HttpResponseMessage _upstream = CreateUpstreamResponse();

    public HeaderCopyBenchmarks()
    {
        _route = Fixtures.RouteTable().Match(Fixtures.Request("details", "/")).Route!;
        _endpoint = _cluster.Endpoints[0];
    }

    [Benchmark]
    public void RequestHeaders()
    {
        var exchange = new Trellis.Proxy.Listeners.KestrelExchange(_request, null, _forwarder, static () => "id");
        using var message = _factory.Create(exchange, new Trellis.Proxy.Pipeline.Attempt(_route, null, _cluster, _endpoint, 0, 0), false, 64 * 1024, out _);
    }

    [Benchmark]
    public void ResponseHeaders()
    {
        _response.Response.Headers.Clear();
        ResponseCopier.CopyHeaders(_upstream, _response.Response, isUpgrade: false);
    }

    internal static DefaultHttpContext CreateRequest()
    {
        var context = new DefaultHttpContext();
        var request = context.Request;
        request.Method = "GET";
        request.Scheme = "http";
        request.Path = "/details/0";
        request.QueryString = new QueryString("?u=normal");
        request.Headers.Host = "details:9080";
        request.Headers.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        request.Headers.Accept = "application/json";
        request.Headers.AcceptEncoding = "gzip, deflate, br";
        request.Headers.AcceptLanguage = "en-US,en;q=0.9";
        request.Headers.Cookie = "session=0123456789abcdef";
        request.Headers["X-Request-Id"] = "5c1f6c7e-2f4b-4a53-9d8a-0b8f5a1d2e3f";
        request.Headers["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        context.Connection.RemoteIpAddress = IPAddress.Loopback;
        return context;
    }

    internal static HttpResponseMessage CreateUpstreamResponse()
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(new byte[1024]) };
        response.Headers.TryAddWithoutValidation("Date", "Sat, 22 Nov 2025 03:00:00 GMT");
        response.Headers.TryAddWithoutValidation("Server", "envoy");
        response.Headers.TryAddWithoutValidation("Cache-Control", "no-cache");
        response.Headers.TryAddWithoutValidation("ETag", "\"6560c6a0-400\"");
        response.Headers.TryAddWithoutValidation("x-envoy-upstream-service-time", "3");
        response.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        response.Content.Headers.ContentLength = 1024;
        return response;
    }
}
