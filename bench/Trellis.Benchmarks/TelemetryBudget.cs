using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Telemetry;

namespace Trellis.Benchmarks;

/// <summary>
/// The telemetry stage's per-request work, for the allocation budget: reading the trace context (continued or new), the
/// caller and the protocol from a request head (the metadata-exchange header of a known caller), and counting a finished request in
/// its series on either reporter's side (and with it in the live views' window of its edge), also while a tap watches another
/// workload. Each must allocate nothing once a label set has been seen.
/// </summary>
internal static class TelemetryBudget
{
    public static IEnumerable<(string Name, Action Call)> Operations()
    {
        var productpage = new WorkloadMetadata("productpage-v1", "default", new Dictionary<string, string> { ["app"] = "productpage", ["version"] = "v1" });
        var reviews = new WorkloadMetadata("reviews-v2", "default", new Dictionary<string, string> { ["app"] = "reviews", ["version"] = "v2" });
        var service = new ServiceMetadata("reviews.default.svc.cluster.local", "reviews", "default");
        var snapshot = new ProxySnapshot(
            "1",
            [
                new ListenerConfig("productpage/outbound", "127.0.0.1", 15001, ListenerKind.Outbound, "rt", Peer: productpage),
                new ListenerConfig("reviews/inbound", "127.0.0.1", 15006, ListenerKind.Inbound, "rt", Peer: reviews, Services: [service]),
                new ListenerConfig("productpage/tagged", "127.0.0.1", 15002, ListenerKind.Outbound, "rt", Peer: productpage, Telemetry: new ListenerTelemetryConfig(MetricOverrides: Overrides)),
            ],
            [new RouteTableConfig("rt", [new VirtualHostConfig("all", ["*"], [new RouteConfig("default", [], [new WeightedClusterConfig("reviews", 100)])])])],
            [new ClusterConfig("reviews", [new EndpointConfig("10.0.0.2", 9080, reviews.Labels, reviews.Name, reviews.Namespace)], Service: service)]);
        var options = new ProxyServerOptions();
        var compiled = SnapshotCompiler.Compile(snapshot, CompiledSnapshot.Empty, new UpstreamClients(options), options);
        var telemetry = new ProxyTelemetry();
        telemetry.OnSnapshot(snapshot, compiled);
        var outbound = telemetry.Listener("productpage/outbound")!;
        var inbound = telemetry.Listener("reviews/inbound")!;
        var cluster = compiled.Clusters["reviews"];
        var outcome = new ExchangeOutcome(ForwardError.None, 200, ResponseFlags.None, cluster, cluster.Endpoints[0]);

        var toReviews = Request(("Content-Type", "application/json"), ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
        var fromProductpage = Request((PeerMetadata.Header, PeerMetadata.Encode(productpage)), ("Content-Type", "application/grpc+proto"));
        var client = new ExchangeTelemetry { RequestBytes = 120, ResponseBytes = 2400 };
        var server = new ExchangeTelemetry { RequestBytes = 900, ResponseBytes = 2400 };
        var elapsed = TimeSpan.FromMilliseconds(3);
        yield return ("telemetry: begin, client side", () => telemetry.Begin(outbound, toReviews, client));
        yield return ("telemetry: begin, caller header", () => telemetry.Begin(inbound, fromProductpage, server));
        yield return ("telemetry: count, source side", () => telemetry.Record(outbound, toReviews, client, outcome, elapsed, System.Diagnostics.Stopwatch.GetTimestamp()));
        yield return ("telemetry: count, destination side", () => telemetry.Record(inbound, fromProductpage, server, outcome, elapsed, System.Diagnostics.Stopwatch.GetTimestamp()));

        // Telemetry API tag overrides: a label from the peer and a removed one cost nothing per request (they are in the
        // series' label text); labels from the request head (request.host, a header) are copied and looked up per request.
        var tagged = telemetry.Listener("productpage/tagged")!;
        var taggedClient = new ExchangeTelemetry { RequestBytes = 120, ResponseBytes = 2400 };
        yield return ("telemetry: begin, request tags", () => telemetry.Begin(tagged, toReviews, taggedClient));
        yield return ("telemetry: count, tag overrides", () => telemetry.Record(tagged, toReviews, taggedClient, outcome, elapsed, System.Diagnostics.Stopwatch.GetTimestamp()));

        // A tap on another workload (trellis tap details-v1), on a proxy of its own so the rows above run with none:
        // these requests are looked at and not kept.
        var watched = new ProxyTelemetry();
        watched.OnSnapshot(snapshot, compiled);
        watched.Taps.Attach(new Trellis.Proxy.Telemetry.Live.TapFilter("details-v1", "default", null, null));
        var watchedInbound = watched.Listener("reviews/inbound")!;
        yield return ("telemetry: count, tap on other workload", () => watched.Record(watchedInbound, fromProductpage, server, outcome, elapsed, System.Diagnostics.Stopwatch.GetTimestamp()));
    }

    /// <summary>Istio's docs' examples: the host and a header as labels, the peer's app, the response code removed.</summary>
    private static readonly IReadOnlyList<MetricOverrideConfig> Overrides =
    [
        new(StandardMetric.RequestCount, Tags:
        [
            new("peer_app", "upstream_peer.labels['app'].value"),
            new("request_host", "request.host"),
            new("response_code", null),
            new("tenant", "has(request.headers['content-type']) ? request.headers['content-type'] : 'none'"),
        ]),
        new(StandardMetric.RequestDuration, Disabled: true),
    ];

    private static RouteRequest Request(params (string Name, string Value)[] headers)
    {
        var dictionary = new HeaderDictionary { ["Host"] = "reviews:9080" };
        foreach (var (name, value) in headers)
        {
            dictionary[name] = value;
        }

        return new RouteRequest("GET", "reviews:9080", "/reviews/0", null, dictionary, 15001);
    }
}
