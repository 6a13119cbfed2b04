using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;
using Trellis.Proxy.Tests.Pipeline;

namespace Trellis.Proxy.Tests.Telemetry;

/// <summary>
/// Istio's request metrics through every engine: a client-side proxy (productpage's outbound listener) calls a
/// server-side one (reviews' inbound listener) that forwards to the application; each reports the request with Istio's
/// labels, the server side learning who called from the metadata exchange, and the application never seeing it.
/// </summary>
public sealed class RequestMetricsTests
{
    private static readonly WorkloadMetadata Productpage = new("productpage-v1", "default", new Dictionary<string, string> { ["app"] = "productpage", ["version"] = "v1" });
    private static readonly WorkloadMetadata Reviews = new("reviews-v2", "default", new Dictionary<string, string> { ["app"] = "reviews", ["version"] = "v2" });
    private static readonly ServiceMetadata ReviewsService = new("reviews.default.svc.cluster.local", "reviews", "default");

    [Theory]
    [InlineData(Engine.Http1Fast)]
    [InlineData(Engine.Http1Kestrel)]
    [InlineData(Engine.Http2Fast)]
    [InlineData(Engine.Http2Kestrel)]
    public async Task Request_EveryEngine_BothReportersCountWithIstioLabels(Engine engine)
    {
        var appSawPeerHeader = false;
        await using var app = await TestBackend.StartAsync(context =>
        {
            appSawPeerHeader |= context.Request.Headers.ContainsKey("x-envoy-peer-metadata") || context.Request.Headers.ContainsKey("x-envoy-peer-metadata-id");
            return context.Response.WriteAsync(new string('r', 300));
        });
        var http2 = engine is Engine.Http2Fast or Engine.Http2Kestrel;
        var options = new ProxyServerOptions { FastHttp1 = engine == Engine.Http1Fast, FastHttp2 = engine == Engine.Http2Fast };
        await using var server = await ProxyHarness.StartAsync(Inbound(app.Endpoint), options);
        var endpoint = new EndpointConfig("127.0.0.1", server.EndPoint.Port, Reviews.Labels, Reviews.Name, Reviews.Namespace);
        await using var client = await ProxyHarness.StartAsync(Outbound(endpoint, http2), options);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/reviews/0")
        {
            Version = http2 ? HttpVersion.Version20 : HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.Host = "reviews:9080";
        request.Headers.Add("x-envoy-peer-metadata", "spoofed"); // a client's own claim never passes the first proxy
        using var response = await client.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(300, (await response.Content.ReadAsStringAsync()).Length);

        var source = await SeriesAsync(client.Server, "istio_requests_total", "source");
        Assert.Equal("productpage-v1", source["source_workload"]);
        Assert.Equal("productpage", source["source_app"]);
        Assert.Equal("v1", source["source_version"]);
        Assert.Equal("reviews-v2", source["destination_workload"]);
        Assert.Equal("v2", source["destination_version"]);
        Assert.Equal("reviews.default.svc.cluster.local", source["destination_service"]);
        Assert.Equal("reviews", source["destination_service_name"]);
        Assert.Equal("default", source["destination_service_namespace"]);
        Assert.Equal("200", source["response_code"]);
        Assert.Equal("http", source["request_protocol"]);
        Assert.Equal("-", source["response_flags"]);
        Assert.Equal("unknown", source["connection_security_policy"]);
        Assert.Equal("", source["grpc_response_status"]);

        var destination = await SeriesAsync(server.Server, "istio_requests_total", "destination");
        Assert.Equal("productpage-v1", destination["source_workload"]); // from the metadata exchange, not from the client
        Assert.Equal("productpage", destination["source_canonical_service"]);
        Assert.Equal("reviews-v2", destination["destination_workload"]);
        Assert.Equal("reviews", destination["destination_service_name"]);
        Assert.Equal("none", destination["connection_security_policy"]);
        Assert.Equal("unknown", destination["source_principal"]); // no identities before mTLS
        Assert.False(appSawPeerHeader);

        var text = client.Server.PrometheusMetrics();
        Assert.Matches(new Regex("""istio_requests_total\{reporter="source",[^}]*\} 1\n"""), text);
        // The response size counts its head and its 300-byte body: the 500-byte bucket and not the 250-byte one.
        Assert.Matches(new Regex("""istio_response_bytes_bucket\{reporter="source",[^}]*le="250"\} 0\n"""), text);
        Assert.Matches(new Regex("""istio_response_bytes_bucket\{reporter="source",[^}]*le="1000"\} 1\n"""), text);
        Assert.Matches(new Regex("""istio_request_bytes_bucket\{reporter="source",[^}]*le="0.5"\} 0\n"""), text);
        Assert.Matches(new Regex("""istio_request_duration_milliseconds_count\{reporter="source",[^}]*\} 1\n"""), text);
        Assert.Empty(await Promtool.ProblemsAsync(text));
        Assert.Empty(await Promtool.ProblemsAsync(server.Server.PrometheusMetrics()));
    }

    [Theory]
    [InlineData(Engine.Http1Fast)]
    [InlineData(Engine.Http1Kestrel)]
    [InlineData(Engine.Http2Fast)]
    [InlineData(Engine.Http2Kestrel)]
    public async Task NoEndpoint_EveryEngine_CountedWithFlagsAndUnknownWorkload(Engine engine)
    {
        var http2 = engine is Engine.Http2Fast or Engine.Http2Kestrel;
        var options = new ProxyServerOptions { FastHttp1 = engine == Engine.Http1Fast, FastHttp2 = engine == Engine.Http2Fast };
        var snapshot = Outbound(null, http2);
        await using var client = await ProxyHarness.StartAsync(snapshot, options);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/")
        {
            Version = http2 ? HttpVersion.Version20 : HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.Host = "reviews:9080";

        using var response = await client.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var series = await SeriesAsync(client.Server, "istio_requests_total", "source");
        Assert.Equal("503", series["response_code"]);
        Assert.Equal("UH", series["response_flags"]);
        Assert.Equal("unknown", series["destination_workload"]);
        Assert.Equal("reviews", series["destination_service_name"]);
    }

    [Fact]
    public async Task GrpcRequest_ProtocolAndStatusFromTrailersOnlyAnswer()
    {
        await using var app = await TestBackend.StartAsync(context =>
        {
            context.Response.ContentType = "application/grpc";
            context.Response.Headers["grpc-status"] = "5";
            return Task.CompletedTask;
        });
        await using var proxy = await ProxyHarness.StartAsync(Outbound(app.Endpoint with { Workload = "svc" }, http2: false));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/pkg.Svc/Get") { Content = new ByteArrayContent([0, 0, 0, 0, 0]) };
        request.Headers.Host = "reviews:9080";
        request.Content.Headers.ContentType = new("application/grpc");

        using var response = await proxy.Client.SendAsync(request);

        var series = await SeriesAsync(proxy.Server, "istio_requests_total", "source");
        Assert.Equal("grpc", series["request_protocol"]);
        Assert.Equal("5", series["grpc_response_status"]);
    }

    private static ProxySnapshot Inbound(EndpointConfig app) => new(
        "1",
        [new ListenerConfig("reviews/inbound", "127.0.0.1", 0, ListenerKind.Inbound, "in", Peer: Reviews, Services: [ReviewsService])],
        [new RouteTableConfig("in", [new VirtualHostConfig("inbound", ["*"], [Snapshots.Route("default", "inbound|9080||reviews")])])],
        [new ClusterConfig("inbound|9080||reviews", [app])]);

    private static ProxySnapshot Outbound(EndpointConfig? reviews, bool http2) => new(
        "1",
        [new ListenerConfig("productpage/outbound", "127.0.0.1", 0, ListenerKind.Outbound, "out", Protocols: http2 ? HttpProtocols.Http2 : HttpProtocols.Http1AndHttp2, Peer: Productpage)],
        [new RouteTableConfig("out", [new VirtualHostConfig("reviews", ["reviews", "reviews:9080"], [Snapshots.Route("default", "outbound|9080||reviews.default.svc.cluster.local")])])],
        [new ClusterConfig("outbound|9080||reviews.default.svc.cluster.local", reviews is null ? [] : [reviews], Service: ReviewsService)]);

    /// <summary>The labels of the one series of <paramref name="family"/> with <paramref name="reporter"/>, once the request has been counted.</summary>
    private static async Task<Dictionary<string, string>> SeriesAsync(ProxyServer proxy, string family, string reporter)
    {
        string? line = null;
        await Eventually.TrueAsync(
            () => (line = proxy.PrometheusMetrics().Split('\n').FirstOrDefault(l => l.StartsWith(family + "{reporter=\"" + reporter + "\"", StringComparison.Ordinal))) is not null,
            $"{family} has a series reported by the {reporter}");
        var found = line!;
        var labels = found[(found.IndexOf('{', StringComparison.Ordinal) + 1)..found.LastIndexOf('}')];
        return Regex.Matches(labels, "([a-z_]+)=\"([^\"]*)\"").ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
    }
}
