using System.Net;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Admin;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Telemetry;

/// <summary>
/// A real Prometheus scrapes a proxy's <c>/stats/prometheus</c> and answers the query the issue names for bookinfo's
/// 90/10 split of reviews by version: the counts it stores are the requests each version's application received.
/// </summary>
public sealed class PrometheusScrapeTests
{
    private static readonly ServiceMetadata Reviews = new("reviews.default.svc.cluster.local", "reviews", "default");
    private static readonly WorkloadMetadata Productpage = new("productpage-v1", "default", new Dictionary<string, string> { ["app"] = "productpage", ["version"] = "v1" });

    [Fact]
    public async Task Scrape_WeightedSplit_PrometheusShowsRequestsByDestinationVersion()
    {
        var hits = new int[2];
        await using var v1 = await TestBackend.StartAsync(c => { Interlocked.Increment(ref hits[0]); return c.Response.WriteAsync("v1"); });
        await using var v2 = await TestBackend.StartAsync(c => { Interlocked.Increment(ref hits[1]); return c.Response.WriteAsync("v2"); });
        await using var proxy = await ProxyHarness.StartAsync(Split(v1.Port, v2.Port));
        await using var admin = await AdminServer.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), app => ProxyAdmin.Map(app, proxy.Server));
        await using var prometheus = await PrometheusServer.StartAsync([admin.Url.Authority], MetricsEndpoint.Path);

        const string total = """sum(istio_requests_total{reporter="source",destination_service_name="reviews"}) by (destination_version)""";
        await SendAsync(proxy, 100);
        await prometheus.QueryUntilAsync(total, r => r.Values.Sum() == 100, "the first 100 requests");
        await SendAsync(proxy, 200);

        var counts = await prometheus.QueryUntilAsync(total, r => r.Values.Sum() == 300, "all 300 requests");
        Assert.Equal(hits[0], counts.GetValueOrDefault("destination_version=v1"));
        Assert.Equal(hits[1], counts.GetValueOrDefault("destination_version=v2"));
        Assert.InRange(hits[1], 1, 90); // 10 % of 300 is 30; 90 is over 8 standard deviations away

        // The query: rates by version, the 90 share above the 10.
        var rates = await prometheus.QueryAsync(
            """sum(rate(istio_requests_total{destination_service_name="reviews"}[1m])) by (destination_version)""");
        Assert.True(rates.GetValueOrDefault("destination_version=v1") > rates.GetValueOrDefault("destination_version=v2"), string.Join("; ", rates));
        Assert.True(rates.GetValueOrDefault("destination_version=v2") > 0, string.Join("; ", rates));

        // Istio's buckets arrive as Prometheus stores them: the +Inf bucket of the duration counts every request.
        var buckets = await prometheus.QueryAsync("""sum(istio_request_duration_milliseconds_bucket{le="+Inf"})""");
        Assert.Equal(300, buckets.Values.Single());
    }

    private static async Task SendAsync(ProxyHarness proxy, int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/reviews/" + i);
            request.Headers.Host = "reviews:9080";
            using var response = await proxy.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    private static ProxySnapshot Split(int v1, int v2) => new(
        "1",
        [new ListenerConfig("productpage/outbound", "127.0.0.1", 0, ListenerKind.Outbound, "out", Peer: Productpage)],
        [new RouteTableConfig("out", [new VirtualHostConfig("reviews", ["reviews", "reviews:9080"],
            [new RouteConfig("split", [], [new WeightedClusterConfig("outbound|9080|v1|reviews", 90), new WeightedClusterConfig("outbound|9080|v2|reviews", 10)])])])],
        [Cluster("v1", v1), Cluster("v2", v2)]);

    private static ClusterConfig Cluster(string version, int port) => new(
        $"outbound|9080|{version}|reviews",
        [new EndpointConfig("127.0.0.1", port, new Dictionary<string, string> { ["app"] = "reviews", ["version"] = version }, "reviews-" + version, "default")],
        Service: Reviews);
}
