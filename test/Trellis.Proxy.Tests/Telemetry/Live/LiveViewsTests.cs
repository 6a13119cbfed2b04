using System.Net;
using Microsoft.AspNetCore.Http;
using Trellis.Api.LiveViews;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Telemetry.Live;
using Trellis.Proxy.Tests.Infrastructure;
using Trellis.Proxy.Tests.Pipeline;

namespace Trellis.Proxy.Tests.Telemetry.Live;

/// <summary>
/// The proxies' side of the live views, through the telemetry stage of every engine: the windows of each edge (fed where
/// istio_requests_total is counted) and the taps (records kept only while a tap wants them).
/// </summary>
public sealed class LiveViewsTests
{
    private static readonly WorkloadMetadata Productpage = new("productpage-v1", "default", new Dictionary<string, string> { ["app"] = "productpage", ["version"] = "v1" });
    private static readonly WorkloadMetadata Reviews = new("reviews-v2", "default", new Dictionary<string, string> { ["app"] = "reviews", ["version"] = "v2" });
    private static readonly ServiceMetadata ReviewsService = new("reviews.default.svc.cluster.local", "reviews", "default");

    [Theory]
    [InlineData(Engine.Http1Fast)]
    [InlineData(Engine.Http1Kestrel)]
    [InlineData(Engine.Http2Fast)]
    public async Task Stats_Requests_EachReporterHasTheEdgeWithSuccessesAndLatency(Engine engine)
    {
        await using var pair = await PairAsync(engine);
        await pair.GetAsync("/reviews/0", HttpStatusCode.OK);
        await pair.GetAsync("/reviews/1", HttpStatusCode.OK);
        await pair.GetAsync("/fail", HttpStatusCode.InternalServerError);

        var source = await EdgeAsync(pair.Client.Server, "source", 3);
        Assert.Equal("productpage-v1", source.Source.Workload);
        Assert.Equal("reviews-v2", source.Destination.Workload);
        Assert.Equal("v2", source.Destination.Version);
        Assert.Equal("reviews", source.Service.Name);
        Assert.Equal(2, source.Successes); // the 500 is a failure, as Linkerd counts it
        Assert.Equal(3, source.Latency.Sum());
        Assert.Equal(LatencyBuckets.Count, source.Latency.Count);

        var destination = await EdgeAsync(pair.Server.Server, "destination", 3);
        Assert.Equal("productpage-v1", destination.Source.Workload); // from the metadata exchange
        Assert.Equal("reviews-v2", destination.Destination.Workload);
        Assert.Equal(0, destination.MutualTls);

        var stats = pair.Client.Server.Telemetry.LiveStats(10, "p");
        Assert.InRange(stats.WindowSeconds, 10, 11);
    }

    [Fact]
    public async Task Tap_NoneAttached_KeepsNothing()
    {
        await using var pair = await PairAsync(Engine.Http1Fast);
        await pair.GetAsync("/reviews/0", HttpStatusCode.OK);
        await EdgeAsync(pair.Server.Server, "destination", 1);

        Assert.False(pair.Server.Server.Telemetry.Taps.Attached);
        Assert.Equal(0, pair.Server.Server.Telemetry.Taps.Records.Next);
    }

    [Theory]
    [InlineData(Engine.Http1Fast)]
    [InlineData(Engine.Http2Kestrel)]
    public async Task Tap_Attached_KeepsTheRequestsItMatches(Engine engine)
    {
        await using var pair = await PairAsync(engine);
        var taps = pair.Server.Server.Telemetry.Taps;
        using (taps.Attach(new TapFilter("reviews-v2", "default", "/reviews", "GET")))
        {
            await pair.GetAsync("/reviews/7?x=1", HttpStatusCode.OK);
            await pair.GetAsync("/fail", HttpStatusCode.InternalServerError); // another path: not kept
            await EdgeAsync(pair.Server.Server, "destination", 2);
        }

        await pair.GetAsync("/reviews/8", HttpStatusCode.OK); // detached: not kept
        await EdgeAsync(pair.Server.Server, "destination", 3);

        var records = new List<TapRecord>();
        taps.Records.Read(0, records, out var first);
        var record = Assert.Single(records);
        var tap = record.ToEvent(first, "node/test");
        Assert.Equal("inbound", tap.Direction);
        Assert.Equal("reviews-v2", tap.Workload);
        Assert.Equal("GET", tap.Method);
        Assert.Equal("/reviews/7?x=1", tap.Path);
        Assert.Equal("reviews:9080", tap.Authority);
        Assert.Equal(200, tap.Status);
        Assert.Equal("-", tap.ResponseFlags);
        Assert.Equal("productpage-v1", tap.Source.Workload);
        Assert.Equal("reviews-v2", tap.Destination.Workload);
        Assert.True(tap.LatencyMs > 0);
        Assert.True(tap.ResponseBytes > 0);
        Assert.False(taps.Attached);
    }

    private static async Task<LiveEdge> EdgeAsync(ProxyServer proxy, string reporter, long requests)
    {
        LiveEdge? edge = null;
        await Eventually.TrueAsync(
            () => (edge = proxy.Telemetry.LiveStats(60, "p").Edges.SingleOrDefault(e => e.Reporter == reporter)) is { } e && e.Requests == requests,
            $"the {reporter} edge counts {requests} requests");
        return edge!;
    }

    private static async Task<Pair> PairAsync(Engine engine)
    {
        var app = await TestBackend.StartAsync(context =>
        {
            context.Response.StatusCode = context.Request.Path == "/fail" ? 500 : 200;
            return context.Response.WriteAsync("reviews");
        });
        var http2 = engine is Engine.Http2Fast or Engine.Http2Kestrel;
        var options = new ProxyServerOptions { FastHttp1 = engine == Engine.Http1Fast, FastHttp2 = engine == Engine.Http2Fast };
        var server = await ProxyHarness.StartAsync(Inbound(app.Endpoint), options);
        var endpoint = new EndpointConfig("127.0.0.1", server.EndPoint.Port, Reviews.Labels, Reviews.Name, Reviews.Namespace);
        var client = await ProxyHarness.StartAsync(Outbound(endpoint, http2), options);
        return new Pair(app, server, client, http2);
    }

    private sealed record Pair(TestBackend App, ProxyHarness Server, ProxyHarness Client, bool Http2) : IAsyncDisposable
    {
        public async Task GetAsync(string path, HttpStatusCode expected)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path)
            {
                Version = Http2 ? HttpVersion.Version20 : HttpVersion.Version11,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            request.Headers.Host = "reviews:9080";
            using var response = await Client.Client.SendAsync(request);
            Assert.Equal(expected, response.StatusCode);
            await response.Content.ReadAsStringAsync();
        }

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await Server.DisposeAsync();
            await App.DisposeAsync();
        }
    }

    private static ProxySnapshot Inbound(EndpointConfig app) => new(
        "1",
        [new ListenerConfig("reviews/inbound", "127.0.0.1", 0, ListenerKind.Inbound, "in", Peer: Reviews, Services: [ReviewsService])],
        [new RouteTableConfig("in", [new VirtualHostConfig("inbound", ["*"], [Snapshots.Route("default", "inbound|9080||reviews")])])],
        [new ClusterConfig("inbound|9080||reviews", [app])]);

    private static ProxySnapshot Outbound(EndpointConfig reviews, bool http2) => new(
        "1",
        [new ListenerConfig("productpage/outbound", "127.0.0.1", 0, ListenerKind.Outbound, "out", Protocols: http2 ? HttpProtocols.Http2 : HttpProtocols.Http1AndHttp2, Peer: Productpage)],
        [new RouteTableConfig("out", [new VirtualHostConfig("reviews", ["reviews", "reviews:9080"], [Snapshots.Route("default", "outbound|9080||reviews.default.svc.cluster.local")])])],
        [new ClusterConfig("outbound|9080||reviews.default.svc.cluster.local", [reviews], Service: ReviewsService)]);
}
