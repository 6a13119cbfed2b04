using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Tests.Routing;

/// <summary>
/// Route-table checks in the style of Envoy's router_check_tool: a request goes in, the expected
/// virtual host, route, cluster and rewritten path come out. One table, many cases.
/// </summary>
public sealed class RouteTableTests
{
    private static readonly StringMatchConfig Present = new(StringMatchKind.Present, "");

    private static StringMatchConfig Exact(string v) => new(StringMatchKind.Exact, v);

    private static StringMatchConfig Prefix(string v) => new(StringMatchKind.Prefix, v);

    private static StringMatchConfig Regex(string v) => new(StringMatchKind.Regex, v);

    private static RouteConfig To(string name, string cluster, params RouteMatchConfig[] matches) =>
        new(name, matches, [new WeightedClusterConfig(cluster, 1)]);

    private static readonly RouteTableConfig Table = new("rt",
    [
        new VirtualHostConfig("reviews", ["reviews", "reviews.default.svc.cluster.local"],
        [
            To("exact-v2", "reviews-v2", new RouteMatchConfig(Uri: Exact("/reviews/2"))),
            To("jason", "reviews-v3", new RouteMatchConfig(Headers: new Dictionary<string, StringMatchConfig> { ["end-user"] = Exact("jason") })),
            To("regex-id", "reviews-regex", new RouteMatchConfig(Uri: Regex("/reviews/[0-9]+"), Method: Exact("GET"))),
            new RouteConfig("rewrite-api", [new RouteMatchConfig(Uri: Prefix("/api/"), IgnoreUriCase: true)], [new WeightedClusterConfig("reviews-v1", 1)],
                Rewrite: new RewriteConfig(UriPrefix: "/v1/")),
            To("debug-without-canary", "reviews-debug", new RouteMatchConfig(
                QueryParams: new Dictionary<string, StringMatchConfig> { ["debug"] = Exact("on") },
                WithoutHeaders: new Dictionary<string, StringMatchConfig> { ["x-canary"] = Present })),
            To("either", "reviews-either", new RouteMatchConfig(Uri: Prefix("/a")), new RouteMatchConfig(Uri: Prefix("/b"))),
            To("default", "reviews-v1"),
        ]),
        new VirtualHostConfig("ratings-port", ["ratings:9080"], [To("ratings-9080", "ratings-9080")]),
        new VirtualHostConfig("ratings", ["ratings"],
        [
            To("port-8080", "ratings-8080", new RouteMatchConfig(Port: 8080)),
            To("authority", "ratings-auth", new RouteMatchConfig(Authority: Prefix("ratings"), Method: Exact("POST"))),
        ]),
        new VirtualHostConfig("suffix-long", ["*.api.example.com"], [To("long", "long")]),
        new VirtualHostConfig("suffix-short", ["*.example.com"], [To("short", "short")]),
        new VirtualHostConfig("catch-all", ["*"], [To("catch-all", "fallback", new RouteMatchConfig(Uri: Prefix("/known")))]),
    ]);

    public static TheoryData<string, string, string, string, string?, string?> Cases => new()
    {
        // method, authority, path+query, headers ("a=1;b=2"), expected cluster (null: no route), expected upstream path
        { "GET", "reviews", "/reviews/2", "", "reviews-v2", "/reviews/2" },
        { "GET", "REVIEWS:9080", "/reviews/2", "", "reviews-v2", "/reviews/2" },
        { "GET", "reviews.default.svc.cluster.local", "/reviews/2/", "", "reviews-v1", "/reviews/2/" },
        { "GET", "reviews", "/reviews/2", "end-user=jason", "reviews-v2", "/reviews/2" },
        { "GET", "reviews", "/reviews/7", "end-user=jason", "reviews-v3", "/reviews/7" },
        { "GET", "reviews", "/reviews/7", "end-user=JASON", "reviews-regex", "/reviews/7" },
        { "GET", "reviews", "/reviews/7", "", "reviews-regex", "/reviews/7" },
        { "POST", "reviews", "/reviews/7", "", "reviews-v1", "/reviews/7" },
        { "GET", "reviews", "/reviews/7x", "", "reviews-v1", "/reviews/7x" },
        { "GET", "reviews", "/x/reviews/7", "", "reviews-v1", "/x/reviews/7" },
        { "GET", "reviews", "/api/items", "", "reviews-v1", "/v1/items" },
        { "GET", "reviews", "/API/items?q=1", "", "reviews-v1", "/v1/items" },
        { "GET", "reviews", "/page?debug=on", "", "reviews-debug", "/page" },
        { "GET", "reviews", "/page?x=1&debug=%6Fn", "", "reviews-debug", "/page" },
        { "GET", "reviews", "/page?debug=on", "x-canary=1", "reviews-v1", "/page" },
        { "GET", "reviews", "/page?debug=off", "", "reviews-v1", "/page" },
        { "GET", "reviews", "/alpha", "", "reviews-either", "/alpha" },
        { "GET", "reviews", "/beta", "", "reviews-either", "/beta" },
        { "GET", "ratings:9080", "/", "", "ratings-9080", "/" },
        { "GET", "ratings:8080", "/", "", "ratings-8080", "/" },
        { "POST", "ratings", "/", "", "ratings-auth", "/" },
        { "GET", "ratings", "/", "", null, null },
        { "GET", "v1.api.example.com", "/", "", "long", "/" },
        { "GET", "www.example.com:443", "/", "", "short", "/" },
        { "GET", "example.com", "/known", "", "fallback", "/known" },
        { "GET", "unknown", "/known/x", "", "fallback", "/known/x" },
        { "GET", "unknown", "/other", "", null, null },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Match_RequestTable_SelectsExpectedClusterAndRewrite(
        string method, string authority, string target, string headers, string? expectedCluster, string? expectedPath)
    {
        var table = Compile(Table);
        var request = Request(method, authority, target, headers, localPort: 15001);

        var match = table.Match(request);

        if (expectedCluster is null)
        {
            Assert.Null(match.Route);
            return;
        }

        Assert.NotNull(match.Route);
        Assert.Equal(expectedCluster, match.Route.PickCluster(_ => 0).Name);
        Assert.Equal(expectedPath, match.Route.RewritePath(request.Path, match.Matched));
    }

    [Fact]
    public void Match_NoVirtualHostForAuthority_ReturnsNoHostAndNoRoute()
    {
        var table = Compile(new RouteTableConfig("rt", [new VirtualHostConfig("only", ["only"], [To("r", "c")])]));

        var match = table.Match(Request("GET", "other", "/", "", 80));

        Assert.Null(match.VirtualHost);
        Assert.Null(match.Route);
    }

    [Theory]
    [InlineData(StringMatchKind.Exact, "/exact", "/exact/tail", "/new")]
    [InlineData(StringMatchKind.Prefix, "/old/", "/old/tail", "/new/tail")]
    [InlineData(StringMatchKind.Regex, "/r/.*", "/r/tail", "/new")]
    public void RewritePath_ByMatchKind_ReplacesPrefixOrWholePath(StringMatchKind kind, string pattern, string path, string expected)
    {
        var rewriteTo = kind == StringMatchKind.Prefix ? "/new/" : "/new";
        var table = Compile(new RouteTableConfig("rt", [new VirtualHostConfig("h", ["*"],
        [
            new RouteConfig("r", [new RouteMatchConfig(Uri: new StringMatchConfig(kind, pattern))], [new WeightedClusterConfig("c", 1)],
                Rewrite: new RewriteConfig(UriPrefix: rewriteTo)),
        ])]));
        if (kind == StringMatchKind.Exact)
        {
            path = pattern;
        }

        var request = Request("GET", "h", path, "", 80);
        var match = table.Match(request);

        Assert.Equal(expected, match.Route!.RewritePath(request.Path, match.Matched));
    }

    [Fact]
    public void Match_RegexIsFullMatch_PartialMatchesDoNotCount()
    {
        var table = Compile(new RouteTableConfig("rt", [new VirtualHostConfig("h", ["*"], [To("r", "c", new RouteMatchConfig(Uri: Regex("/a+")))])]));

        Assert.NotNull(table.Match(Request("GET", "h", "/aaa", "", 80)).Route);
        Assert.Null(table.Match(Request("GET", "h", "/aaab", "", 80)).Route);
        Assert.Null(table.Match(Request("GET", "h", "/aaa\n", "", 80)).Route);
    }

    /// <summary>Istio's <c>scheme</c> match, case-sensitive, on whether the client's connection is TLS.</summary>
    [Fact]
    public void Match_Scheme_ChoosesByTheClientsScheme()
    {
        var table = Compile(new RouteTableConfig("rt", [new VirtualHostConfig("h", ["*"],
            [To("secure", "tls", new RouteMatchConfig(Scheme: Exact("https"))), To("rest", "plain")])]));
        var headers = new HeaderDictionary();

        Assert.Equal("secure", table.Match(new RouteRequest("GET", "h", "/", null, headers, 443, "https")).Route!.Name);
        Assert.Equal("rest", table.Match(new RouteRequest("GET", "h", "/", null, headers, 80, "http")).Route!.Name);
        Assert.Equal("rest", table.Match(new RouteRequest("GET", "h", "/", null, headers, 80)).Route!.Name); // the fast paths: cleartext
    }

    /// <summary>The hot path (match, weighted pick, endpoint pick) allocates nothing, whichever route a request takes.</summary>
    [Fact]
    public void MatchAndPick_WarmedUp_AllocateNothing()
    {
        var table = Compile(Table);
        var requests = new[]
        {
            Request("GET", "reviews:9080", "/reviews/7", "end-user=bob", 15001),
            Request("GET", "reviews", "/API/items", "", 15001),
            Request("GET", "reviews", "/page?x=1&debug=on", "", 15001),
            Request("POST", "ratings", "/", "", 15001),
            Request("GET", "v1.api.example.com", "/", "", 15001),
            Request("GET", "nowhere", "/other", "", 15001),
        };
        Func<int, int> random = max => max - 1;
        var sink = 0;
        // Warm-up lets tiered JIT and the regex runner cache settle; their one-time allocations are not per request.
        for (var warm = 0; warm < 200; warm++)
        {
            foreach (var request in requests)
            {
                sink += table.Match(request).Route?.PickCluster(random).PickEndpoint()?.Port ?? 0;
            }
        }

        var allocatedPerRequestKind = new List<long>();
        foreach (var request in requests)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 1000; i++)
            {
                sink += table.Match(request).Route?.PickCluster(random).PickEndpoint()?.Port ?? 0;
            }

            allocatedPerRequestKind.Add(GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.All(allocatedPerRequestKind, bytes => Assert.Equal(0, bytes));
        GC.KeepAlive(sink);
    }

    internal static CompiledRouteTable Compile(RouteTableConfig table)
    {
        var clusterNames = table.VirtualHosts.SelectMany(h => h.Routes).SelectMany(r => r.Clusters).Select(c => c.Cluster).Distinct();
        var clusters = clusterNames.ToDictionary(
            n => n,
            n => new ClusterState(new ClusterConfig(n, []), [], Invoker, _ => 0, TimeProvider.System));
        return SnapshotCompiler.CompileTable(table, clusters, TimeSpan.FromSeconds(1));
    }

    internal static RouteRequest Request(string method, string authority, string target, string headers, int localPort)
    {
        var query = target.IndexOf('?', StringComparison.Ordinal);
        var dictionary = new HeaderDictionary();
        foreach (var pair in headers.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = pair.Split('=', 2);
            dictionary[parts[0]] = parts[1];
        }

        return new RouteRequest(method, authority, query >= 0 ? target[..query] : target, query >= 0 ? target[query..] : null, dictionary, localPort);
    }

    private static readonly HttpMessageInvoker Invoker = new(new SocketsHttpHandler());
}
