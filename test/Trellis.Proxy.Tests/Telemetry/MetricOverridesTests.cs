using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Telemetry.Metrics;
using Trellis.Proxy.Tests.Infrastructure;
using Trellis.Proxy.Tests.Pipeline;

namespace Trellis.Proxy.Tests.Telemetry;

/// <summary>
/// The Telemetry API's metric overrides on the exposition: a disabled metric is absent, a removed label folds the
/// series it told apart into one sample, upserted labels carry the values of their expressions (from the request head,
/// from the peer), and the text still passes promtool.
/// </summary>
public sealed class MetricOverridesTests
{
    private static readonly WorkloadMetadata Productpage = new("productpage-v1", "default", new Dictionary<string, string> { ["app"] = "productpage", ["version"] = "v1" });
    private static readonly ServiceMetadata ReviewsService = new("reviews.default.svc.cluster.local", "reviews", "default", 9080);

    private static readonly IReadOnlyList<MetricOverrideConfig> Overrides =
    [
        new(StandardMetric.RequestCount, Tags:
        [
            new("peer_app", "upstream_peer.labels['app'].value"),
            new("request_host", "request.host"),
            new("response_code", null),
            new("user", "has(request.headers['x-user']) ? request.headers['x-user'] : 'anonymous'"),
        ]),
        new(StandardMetric.RequestDuration, Disabled: true),
    ];

    [Theory]
    [InlineData(Engine.Http1Fast)]
    [InlineData(Engine.Http1Kestrel)]
    [InlineData(Engine.Http2Fast)]
    public async Task Requests_WithOverrides_ExpositionFollowsThem(Engine engine)
    {
        await using var app = await TestBackend.StartAsync(context =>
        {
            context.Response.StatusCode = context.Request.Path == "/missing" ? 404 : 200;
            return Task.CompletedTask;
        });
        var reviews = app.Endpoint with { Workload = "reviews-v2", Namespace = "default", Labels = new Dictionary<string, string> { ["app"] = "reviews", ["version"] = "v2" } };
        var options = new ProxyServerOptions { FastHttp1 = engine == Engine.Http1Fast, FastHttp2 = engine == Engine.Http2Fast };
        await using var proxy = await ProxyHarness.StartAsync(Outbound(reviews, engine.IsHttp2(), new ListenerTelemetryConfig(MetricOverrides: Overrides)), options);

        foreach (var (path, user) in new[] { ("/reviews/0", "jason"), ("/missing", "jason"), ("/reviews/1", null) })
        {
            using var request = Engines.Request(engine, HttpMethod.Get, path, ("host", "reviews:9080"));
            if (user is not null)
            {
                request.Headers.Add("x-user", user);
            }

            using var response = await proxy.Client.SendAsync(request);
        }

        await Eventually.TrueAsync(() => proxy.Server.Telemetry.Metrics.Series.Sum(s => s.Value.Requests) == 3, "three requests counted");
        var text = proxy.Server.PrometheusMetrics();
        var counts = Regex.Matches(text, "^istio_requests_total\\{(.*)\\} (\\d+)$", RegexOptions.Multiline).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        Assert.Equal(2, counts.Count); // 200 and 404 from jason are one series without response_code
        var jason = Assert.Single(counts, c => c.Key.Contains("user=\"jason\"", StringComparison.Ordinal));
        Assert.Equal("2", jason.Value);
        Assert.Contains("request_host=\"reviews:9080\"", jason.Key, StringComparison.Ordinal);
        Assert.Contains("peer_app=\"reviews\"", jason.Key, StringComparison.Ordinal);
        Assert.Contains("destination_version=\"v2\"", jason.Key, StringComparison.Ordinal); // Istio's labels stay
        Assert.DoesNotContain("response_code", jason.Key, StringComparison.Ordinal);
        Assert.Equal("1", Assert.Single(counts, c => c.Key.Contains("user=\"anonymous\"", StringComparison.Ordinal)).Value);

        Assert.DoesNotContain("istio_request_duration_milliseconds", text, StringComparison.Ordinal);
        // Other metrics keep Istio's labels: the response sizes of the 200s and the 404 are two series.
        Assert.Equal(2, Regex.Count(text, "^istio_response_bytes_count\\{[^}]*response_code=", RegexOptions.Multiline));
        Assert.DoesNotContain("request_host", Regex.Match(text, "^istio_request_bytes_count.*$", RegexOptions.Multiline).Value, StringComparison.Ordinal);
        Assert.Empty(await Promtool.ProblemsAsync(text));
    }

    [Fact]
    public void TcpSeries_DisabledMetricAndRemovedLabel_FamilyAbsentAndSamplesMerged()
    {
        var metrics = new IstioMetrics();
        var plan = metrics.Plans.Id(MetricPlan.From(
        [
            new(StandardMetric.TcpSentBytes, Disabled: true),
            new(StandardMetric.TcpReceivedBytes, Tags: [new("response_flags", null), new("side", "node.metadata['NAMESPACE']")]),
        ]));
        var self = metrics.Peers.Id(PeerLabels.From(Productpage));
        metrics.Tcp.Series(new TcpKey(Reporter.Source, self, 0, 0, ResponseFlags.None, false, plan)).AddReceived(10);
        metrics.Tcp.Series(new TcpKey(Reporter.Source, self, 0, 0, ResponseFlags.UpstreamConnectionFailure, false, plan)).AddReceived(5);
        metrics.Tcp.Series(new TcpKey(Reporter.Source, self, 0, 0, ResponseFlags.None, false, plan)).AddSent(7);

        var writer = new PrometheusWriter();
        metrics.Write(writer);
        var text = writer.ToString();

        Assert.DoesNotContain("istio_tcp_sent_bytes_total", text, StringComparison.Ordinal);
        var received = Assert.Single(Regex.Matches(text, "^istio_tcp_received_bytes_total\\{(.*)\\} (\\d+)$", RegexOptions.Multiline));
        Assert.Equal("15", received.Groups[2].Value);
        Assert.Contains("side=\"default\"", received.Groups[1].Value, StringComparison.Ordinal);
        Assert.DoesNotContain("response_flags", received.Groups[1].Value, StringComparison.Ordinal);
        Assert.Equal(2, Regex.Count(text, "^istio_tcp_connections_opened_total\\{", RegexOptions.Multiline)); // untouched: two series
    }

    private static ProxySnapshot Outbound(EndpointConfig reviews, bool http2, ListenerTelemetryConfig telemetry) => new(
        "1",
        [new ListenerConfig("productpage/outbound", "127.0.0.1", 0, ListenerKind.Outbound, "out", Protocols: http2 ? HttpProtocols.Http2 : HttpProtocols.Http1AndHttp2, Peer: Productpage, Telemetry: telemetry)],
        [new RouteTableConfig("out", [new VirtualHostConfig("reviews", ["reviews", "reviews:9080"], [Snapshots.Route("default", "outbound|9080||reviews.default.svc.cluster.local")])])],
        [new ClusterConfig("outbound|9080||reviews.default.svc.cluster.local", [reviews], Service: ReviewsService)]);
}
