using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Routing;

namespace Trellis.Benchmarks;

/// <summary>
/// A bookinfo-shaped outbound route table (what a sidecar of productpage sees): exact hosts, a
/// suffix wildcard, a header-matched route and a 90/10 weighted split, clusters of three endpoints.
/// Shared by the BenchmarkDotNet classes and the allocation budget so both measure the same work.
/// </summary>
internal static class Fixtures
{
    // Never used to send: cluster state needs an invoker, the benchmarks only route and pick.
    private static readonly HttpMessageInvoker Invoker = new(new SocketsHttpHandler());

    public static ClusterState Cluster(string name, LoadBalancerKind kind = LoadBalancerKind.RoundRobin, int endpoints = 3)
    {
        var states = Enumerable.Range(0, endpoints).Select(i => new EndpointState("10.0.0." + (i + 1), 9080)).ToArray();
        return new ClusterState(new ClusterConfig(name, [], kind), states, Invoker, Random.Shared.Next, TimeProvider.System);
    }

    public static CompiledRouteTable RouteTable()
    {
        var clusters = new Dictionary<string, ClusterState>
        {
            ["productpage"] = Cluster("productpage"),
            ["details"] = Cluster("details"),
            ["ratings"] = Cluster("ratings"),
            ["reviews-v1"] = Cluster("reviews-v1"),
            ["reviews-v2"] = Cluster("reviews-v2"),
            ["reviews-v3"] = Cluster("reviews-v3"),
            ["external"] = Cluster("external"),
        };
        static RouteConfig To(string name, string cluster, params RouteMatchConfig[] matches) =>
            new(name, matches, [new WeightedClusterConfig(cluster, 100)]);
        var reviews = new VirtualHostConfig("reviews", ["reviews", "reviews:9080", "reviews.default.svc.cluster.local"],
        [
            new RouteConfig("jason", [new RouteMatchConfig(Headers: new Dictionary<string, StringMatchConfig>
            {
                ["end-user"] = new(StringMatchKind.Exact, "jason"),
            })], [new WeightedClusterConfig("reviews-v2", 100)]),
            new RouteConfig("split", [], [new WeightedClusterConfig("reviews-v1", 90), new WeightedClusterConfig("reviews-v3", 10)]),
        ]);
        var table = new RouteTableConfig("outbound",
        [
            new VirtualHostConfig("productpage", ["productpage", "productpage:9080"],
                [To("api", "productpage", new RouteMatchConfig(Uri: new(StringMatchKind.Prefix, "/api/"))), To("default", "productpage")]),
            new VirtualHostConfig("details", ["details", "details:9080"], [To("default", "details")]),
            new VirtualHostConfig("ratings", ["ratings", "ratings:9080"], [To("default", "ratings")]),
            reviews,
            new VirtualHostConfig("external", ["*.example.com"], [To("default", "external")]),
        ]);
        return SnapshotCompiler.CompileTable(table, clusters, TimeSpan.FromMilliseconds(50));
    }

    public static RouteRequest Request(string authority, string path, params (string Name, string Value)[] headers)
    {
        var dictionary = new HeaderDictionary { ["Host"] = authority, ["User-Agent"] = "bench", ["Accept"] = "*/*" };
        foreach (var (name, value) in headers)
        {
            dictionary[name] = value;
        }

        return new RouteRequest("GET", authority, path, null, dictionary, 15001);
    }
}
