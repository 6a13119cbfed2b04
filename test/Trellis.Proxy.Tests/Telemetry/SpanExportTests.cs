using System.Net;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;
using Trellis.Proxy.Tests.Pipeline;

namespace Trellis.Proxy.Tests.Telemetry;

/// <summary>
/// Spans through the OpenTelemetry SDK's OTLP exporter to a receiver hosted here: one trace across two proxies
/// (productpage's outbound listener, reviews' inbound one), a client span and its server child, with Istio's and
/// Envoy's tags; the application sees the server span as its parent. An unsampled request sends nothing.
/// </summary>
public sealed class SpanExportTests
{
    private static readonly WorkloadMetadata Productpage = new("productpage-v1", "default", new Dictionary<string, string> { ["app"] = "productpage", ["version"] = "v1" });
    private static readonly WorkloadMetadata Reviews = new("reviews-v2", "default", new Dictionary<string, string> { ["app"] = "reviews", ["version"] = "v2" });
    private static readonly ServiceMetadata ReviewsService = new("reviews.default.svc.cluster.local", "reviews", "default");

    [Theory]
    [InlineData(Engine.Http1Fast)]
    [InlineData(Engine.Http2Kestrel)]
    public async Task SampledRequest_TwoProxies_OneTraceWithClientAndServerSpans(Engine engine)
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        string? appTraceParent = null;
        await using var app = await TestBackend.StartAsync(context =>
        {
            appTraceParent = context.Request.Headers["traceparent"];
            return context.Response.WriteAsync("ok");
        });
        var tracing = new ListenerTelemetryConfig(Tracing: new TracingConfig(100, receiver.Endpoint, CustomTags: new Dictionary<string, string> { ["team"] = "books" }));
        var options = new ProxyServerOptions { FastHttp1 = engine == Engine.Http1Fast, FastHttp2 = engine == Engine.Http2Fast };
        await using var server = await ProxyHarness.StartAsync(Inbound(app.Endpoint, tracing, http2: false), options);
        var reviews = new EndpointConfig("127.0.0.1", server.EndPoint.Port, Reviews.Labels, Reviews.Name, Reviews.Namespace);
        await using var client = await ProxyHarness.StartAsync(Outbound(reviews, tracing, engine.IsHttp2()), options);

        using var response = await client.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/reviews/0", ("host", "reviews:9080")));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        Assert.True(client.Server.Telemetry.Spans.Flush() && server.Server.Telemetry.Spans.Flush(), "the exporters sent their spans");
        await Eventually.TrueAsync(() => receiver.Spans.Count >= 2, "two spans at the receiver");
        var spans = receiver.Spans.ToList();
        var outbound = Assert.Single(spans, s => s.Kind == 3);
        var inbound = Assert.Single(spans, s => s.Kind == 2);
        Assert.Equal(outbound.TraceId, inbound.TraceId);
        Assert.Equal("", outbound.ParentSpanId); // the client proxy started the trace
        Assert.Equal(outbound.SpanId, inbound.ParentSpanId);
        Assert.Equal($"00-{inbound.TraceId}-{inbound.SpanId}-01", appTraceParent);
        Assert.Equal("reviews.default.svc.cluster.local:9080/*", outbound.Name);
        Assert.Equal("productpage.default", outbound.Service);
        Assert.Equal("reviews.default", inbound.Service);
        Assert.Equal("200", outbound.Attributes["http.status_code"]);
        Assert.Equal("GET", outbound.Attributes["http.method"]);
        Assert.Equal("http://reviews:9080/reviews/0", outbound.Attributes["http.url"]);
        Assert.Equal("outbound|9080||reviews.default.svc.cluster.local", outbound.Attributes["upstream_cluster"]);
        Assert.Equal("-", outbound.Attributes["response_flags"]);
        Assert.Equal("productpage", outbound.Attributes["istio.canonical_service"]);
        Assert.Equal("reviews", inbound.Attributes["istio.canonical_service"]);
        Assert.Equal("books", inbound.Attributes["team"]);
    }

    /// <summary>Istio names a gateway's client span after the destination service's port, not the port the gateway listens on.</summary>
    [Fact]
    public async Task GatewayRequest_ClientSpanNamedAfterTheServicePort()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var app = await TestBackend.StartAsync(context => context.Response.WriteAsync("ok"));
        var tracing = new ListenerTelemetryConfig(Tracing: new TracingConfig(100, receiver.Endpoint));
        var reviews = app.Endpoint with { Workload = Reviews.Name, Namespace = Reviews.Namespace, Labels = Reviews.Labels };
        var snapshot = new ProxySnapshot(
            "1",
            [new ListenerConfig("gateway/http", "127.0.0.1", 0, ListenerKind.Gateway, "gw", Peer: new WorkloadMetadata("ingress", ""), Telemetry: tracing)],
            [new RouteTableConfig("gw", [new VirtualHostConfig("bookinfo", ["*"], [Snapshots.Route("default", "outbound|9080||reviews.default.svc.cluster.local")])])],
            [new ClusterConfig("outbound|9080||reviews.default.svc.cluster.local", [reviews], Service: ReviewsService with { Port = 9080 })]);
        await using var gateway = await ProxyHarness.StartAsync(snapshot, new ProxyServerOptions());

        using var response = await gateway.Client.SendAsync(Engines.Request(Engine.Http1Fast, HttpMethod.Get, "/reviews/0", ("host", "bookinfo.example.com:8080")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(gateway.Server.Telemetry.Spans.Flush());
        await Eventually.TrueAsync(() => !receiver.Spans.IsEmpty, "the gateway's span at the receiver");
        var span = Assert.Single(receiver.Spans);
        Assert.Equal(3, span.Kind); // client
        Assert.Equal("reviews.default.svc.cluster.local:9080/*", span.Name);
    }

    [Fact]
    public async Task UnsampledRequest_NoSpanSent()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var app = await TestBackend.StartAsync(context => context.Response.WriteAsync("ok"));
        var tracing = new ListenerTelemetryConfig(Tracing: new TracingConfig(0, receiver.Endpoint));
        await using var server = await ProxyHarness.StartAsync(Inbound(app.Endpoint, tracing, http2: false), new ProxyServerOptions());

        using var request = Engines.Request(Engine.Http1Fast, HttpMethod.Get, "/", ("host", "reviews:9080"));
        request.Headers.Add("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"); // not sampled upstream
        using var response = await server.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(server.Server.Telemetry.Spans.Flush());
        Assert.Empty(receiver.Spans);
    }

    private static ProxySnapshot Inbound(EndpointConfig app, ListenerTelemetryConfig telemetry, bool http2) => new(
        "1",
        [new ListenerConfig("reviews/inbound", "127.0.0.1", 0, ListenerKind.Inbound, "in", Protocols: http2 ? HttpProtocols.Http2 : HttpProtocols.Http1AndHttp2, Peer: Reviews, Services: [ReviewsService], Telemetry: telemetry)],
        [new RouteTableConfig("in", [new VirtualHostConfig("inbound", ["*"], [Snapshots.Route("default", "inbound|9080||reviews")])])],
        [new ClusterConfig("inbound|9080||reviews", [app])]);

    private static ProxySnapshot Outbound(EndpointConfig reviews, ListenerTelemetryConfig telemetry, bool http2) => new(
        "1",
        [new ListenerConfig("productpage/outbound", "127.0.0.1", 0, ListenerKind.Outbound, "out", Protocols: http2 ? HttpProtocols.Http2 : HttpProtocols.Http1AndHttp2, Peer: Productpage, Telemetry: telemetry)],
        [new RouteTableConfig("out", [new VirtualHostConfig("reviews", ["reviews", "reviews:9080"], [Snapshots.Route("default", "outbound|9080||reviews.default.svc.cluster.local")])])],
        [new ClusterConfig("outbound|9080||reviews.default.svc.cluster.local", [reviews], Service: ReviewsService)]);
}
