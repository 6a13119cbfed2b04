using Trellis.Api.Explain;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Explain;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Tests.Explain;

/// <summary>Route explain on a compiled snapshot: a request in, the listener, the rules with why each did or did not match, and the policy out.</summary>
public sealed class RouteExplainerTests
{
    private static readonly ProxySnapshot Snapshot = new(
        "v7",
        [
            new ListenerConfig("gateway/8080", "127.0.0.1", 8080, ListenerKind.Gateway, "gw", RateLimit: new RateLimitConfig(10, 1, TimeSpan.FromSeconds(1))),
            new ListenerConfig("productpage-1/outbound", "127.0.0.1", 15001, ListenerKind.Outbound, "out", "productpage-1"),
        ],
        [
            new RouteTableConfig("gw", [new VirtualHostConfig("*", ["*"], [new RouteConfig("to-reviews", [], [new WeightedClusterConfig("v1", 100)])])]),
            new RouteTableConfig("out",
            [
                new VirtualHostConfig("reviews:9080", ["reviews", "reviews:9080"],
                [
                    new RouteConfig("default/reviews/0",
                        [new RouteMatchConfig(Headers: new Dictionary<string, StringMatchConfig> { ["end-user"] = new(StringMatchKind.Exact, "jason") })],
                        [new WeightedClusterConfig("v2", 100)],
                        Fault: new FaultConfig(Abort: new FaultAbortConfig(HttpStatus: 500, Percentage: 100))),
                    new RouteConfig("default/reviews/1",
                        [new RouteMatchConfig(Uri: new(StringMatchKind.Prefix, "/api"), Method: new(StringMatchKind.Exact, "POST")), new RouteMatchConfig(QueryParams: new Dictionary<string, StringMatchConfig> { ["debug"] = new(StringMatchKind.Exact, "1") })],
                        [],
                        DirectResponse: new DirectResponseConfig(418)),
                    new RouteConfig("default/reviews/2",
                        [new RouteMatchConfig(Uri: new(StringMatchKind.Prefix, "/moved"))],
                        [],
                        Redirect: new RedirectConfig(Uri: "/new")),
                    new RouteConfig("default/reviews/3",
                        [new RouteMatchConfig(Uri: new(StringMatchKind.Prefix, "/reviews"))],
                        [new WeightedClusterConfig("v1", 90), new WeightedClusterConfig("v2", 10), new WeightedClusterConfig("v3", 0)],
                        Retry: new RetryConfig(2, RetryOn: ["connect-failure"], RetriableStatusCodes: [503], RetryOnExplicit: false)),
                ]),
            ]),
        ],
        [
            new ClusterConfig("v1", [new EndpointConfig("127.0.0.1", 20001, new Dictionary<string, string> { ["version"] = "v1" })],
                OutlierDetection: new OutlierDetectionConfig()),
            new ClusterConfig("v2", [new EndpointConfig("127.0.0.1", 20002)]),
            new ClusterConfig("v3", []),
        ]);

    public static TheoryData<string, string, string, string, string, string?, string> Cases => new()
    {
        // listener, method, url, headers ("k: v;k2: v2"), outcome, matched route, the reasons of the rules in order
        { "productpage-1/outbound", "GET", "http://reviews:9080/reviews/1", "end-user: jason", "forward", "default/reviews/0", "match[0] holds: header end-user exact \"jason\"" },
        { "productpage-1/outbound", "GET", "http://reviews:9080/reviews/1", "", "forward", "default/reviews/3",
          "match[0]: header end-user is absent | match[0]: method exact \"POST\" does not match GET; match[1]: query parameter debug is absent | match[0]: uri prefix \"/moved\" does not match \"/reviews/1\" | match[0] holds: uri prefix \"/reviews\"" },
        { "productpage-1/outbound", "GET", "http://reviews/x?debug=2", "end-user: bob", "no-route", null,
          "match[0]: header end-user exact \"jason\" does not match \"bob\" | match[0]: method exact \"POST\" does not match GET; match[1]: query parameter debug exact \"1\" does not match \"2\" | match[0]: uri prefix \"/moved\" does not match \"/x\" | match[0]: uri prefix \"/reviews\" does not match \"/x\"" },
        { "productpage-1/outbound", "POST", "http://reviews:9080/api/v1", "", "direct-response", "default/reviews/1", "match[0]: header end-user is absent | match[0] holds: uri prefix \"/api\", method exact \"POST\"" },
        { "productpage-1/outbound", "GET", "http://reviews:9080/moved/a", "", "redirect", "default/reviews/2", "match[0]: header end-user is absent | match[0]: method exact \"POST\" does not match GET; match[1]: query parameter debug is absent | match[0] holds: uri prefix \"/moved\"" },
        { "productpage-1/outbound", "GET", "http://ratings:9080/", "", "no-virtual-host", null, "" },
        { "", "GET", "http://bookinfo.example.com:8080/productpage", "", "forward", "to-reviews", "no match conditions: every request matches" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Explain_Request_GivesOutcomeRuleAndReasons(string listener, string method, string url, string headers, string outcome, string? route, string reasons)
    {
        var request = new ExplainRequest(listener.Length == 0 ? null : listener, method, url,
            [.. headers.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(h => h.Split(':', 2)).Select(p => new KeyValuePair<string, string>(p[0].Trim(), p[1].Trim()))]);

        var explanation = RouteExplainer.Explain(Compile(), request, "test-proxy");

        Assert.Equal(outcome, explanation.Outcome);
        Assert.Equal(route, explanation.Route?.Name);
        Assert.Equal(reasons, string.Join(" | ", explanation.Rules?.Select(r => r.Reason) ?? []));
        Assert.Equal("test-proxy", explanation.Proxy);
        Assert.Equal("v7", explanation.SnapshotVersion);
    }

    [Fact]
    public void Explain_Forward_ListsDestinationsSharesEndpointsAndPolicy()
    {
        var explanation = RouteExplainer.Explain(Compile(), new ExplainRequest("productpage-1/outbound", "GET", "http://reviews:9080/reviews/1", []), "p");

        Assert.Equal(["v1 90 90", "v2 10 10"], explanation.Destinations!.Select(d => FormattableString.Invariant($"{d.ClusterName} {d.Weight} {d.Share}")));
        var v1 = explanation.Destinations![0];
        var endpoint = Assert.Single(v1.Endpoints);
        Assert.Equal(("127.0.0.1", 20001, "v1"), (endpoint.Address, endpoint.Port, endpoint.Labels!["version"]));
        Assert.False(endpoint.Outlier!.Ejected);
        Assert.Null(explanation.Destinations[1].Endpoints.Single().Outlier); // no outlierDetection on v2
        Assert.Empty(v1.Cluster!.Endpoints);
        Assert.Equal(2, explanation.Route!.Retry!.Attempts);
    }

    [Fact]
    public void Explain_GatewayByPort_UsesTheListenerOnTheUrlPortAndShowsItsRateLimit()
    {
        var explanation = RouteExplainer.Explain(Compile(), new ExplainRequest(null, "GET", "http://localhost:8080/", []), "g");

        Assert.Equal("gateway/8080", explanation.Listener);
        Assert.Equal(10, explanation.ListenerRateLimit!.MaxTokens);
    }

    [Theory]
    [InlineData(null, "not a url", "is not an absolute http or https URL")]
    [InlineData(null, "http://localhost:9999/", "no gateway listener on port 9999; this proxy has: gateway/8080 (:8080), productpage-1/outbound (:15001)")]
    [InlineData("nope", "http://reviews/", "no listener \"nope\"")]
    public void Explain_BadRequest_IsAnErrorThatSaysWhy(string? listener, string url, string error)
    {
        var explanation = RouteExplainer.Explain(Compile(), new ExplainRequest(listener, "GET", url, []), "p");

        Assert.Equal("error", explanation.Outcome);
        Assert.Contains(error, explanation.Error, StringComparison.Ordinal);
    }

    private static CompiledSnapshot Compile()
    {
        var options = new ProxyServerOptions();
        using var clients = new UpstreamClients(options);
        return SnapshotCompiler.Compile(Snapshot, CompiledSnapshot.Empty, clients, options);
    }
}
