using Trellis.Api.Snapshots;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Routing;

public sealed class SnapshotValidatorTests
{
    private static readonly ClusterConfig Cluster = new("backend", [new EndpointConfig("127.0.0.1", 8080)]);

    private static ProxySnapshot Valid => Snapshots.With("1", [Snapshots.Route("default", "backend")], Cluster);

    private static ProxySnapshot WithRoute(RouteConfig route) => Snapshots.With("1", [route], Cluster);

    public static TheoryData<string, ProxySnapshot, string> Invalid => new()
    {
        { "duplicate listener", Valid with { Listeners = [Snapshots.Listener("a"), Snapshots.Listener("a")] }, "listeners[1].name: listener 'a' is defined more than once" },
        { "duplicate port", Valid with { Listeners = [Snapshots.Listener("a", port: 15001), Snapshots.Listener("b", port: 15001)] }, "listeners[1].port: 127.0.0.1:15001 is used by another listener" },
        { "bad address", Valid with { Listeners = [Snapshots.Listener() with { Address = "localhost" }] }, "listeners[0].address" },
        { "missing table", Valid with { Listeners = [Snapshots.Listener(table: "nope")] }, "listeners[0].routeTable: route table 'nope' not found" },
        { "missing cluster", WithRoute(Snapshots.Route("r", "nope")), "routeTables[0].virtualHosts[0].routes[0].clusters[0].cluster: cluster 'nope' not found" },
        { "zero weights", WithRoute(new RouteConfig("r", [], [new WeightedClusterConfig("backend", 0)])), "weights must sum to between 1" },
        { "negative weight", WithRoute(new RouteConfig("r", [], [new WeightedClusterConfig("backend", -1)])), "clusters[0].weight: -1 is negative" },
        { "no action", WithRoute(new RouteConfig("r", [], [])), "needs clusters, a redirect or a direct response" },
        { "bad regex", WithRoute(Snapshots.Route("r", "backend", new RouteMatchConfig(Uri: new StringMatchConfig(StringMatchKind.Regex, "/a(")))), "matches[0].uri: regex '/a(' does not compile" },
        { "present on uri", WithRoute(Snapshots.Route("r", "backend", new RouteMatchConfig(Uri: new StringMatchConfig(StringMatchKind.Present, "")))), "matches[0].uri: match kind Present is not allowed here" },
        { "bad redirect code", WithRoute(new RouteConfig("r", [], [], Redirect: new RedirectConfig(Uri: "/x", StatusCode: 200))), "redirect.statusCode: 200" },
        { "bad timeout", WithRoute(new RouteConfig("r", [], [new WeightedClusterConfig("backend", 1)], Timeout: TimeSpan.Zero)), "timeout: must be positive" },
        { "duplicate domain", Valid with { RouteTables = [new RouteTableConfig("rt", [new VirtualHostConfig("a", ["x"], []), new VirtualHostConfig("b", ["X"], [])])] }, "domain 'X' appears more than once" },
        { "inner wildcard", Valid with { RouteTables = [new RouteTableConfig("rt", [new VirtualHostConfig("a", ["a.*.com"], [])])] }, "may only use '*' as its first character" },
        { "bad endpoint port", Valid with { Clusters = [new ClusterConfig("backend", [new EndpointConfig("127.0.0.1", 0)])] }, "clusters[0].endpoints[0].port: 0 is outside 1-65535" },
        { "duplicate cluster", Valid with { Clusters = [Cluster, Cluster] }, "clusters[1].name: cluster 'backend' is defined more than once" },
        { "inbound capture", Valid with { Listeners = [Snapshots.Listener() with { Capture = true, Kind = ListenerKind.Inbound }] }, "listeners[0].capture: a capture listener is an outbound one" },
        { "bad header name", WithRoute(new RouteConfig("r", [], [new WeightedClusterConfig("backend", 1)], RequestHeaders: new HeaderOperationsConfig(Set: new Dictionary<string, string> { ["bad name"] = "v" }))), "requestHeaders: 'bad name' is not a valid header name" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Validate_InvalidSnapshot_ReportsErrorWithFieldPath(string scenario, ProxySnapshot snapshot, string expected)
    {
        var errors = SnapshotValidator.Validate(snapshot);

        Assert.True(errors.Any(e => e.Contains(expected, StringComparison.Ordinal)), $"{scenario}: {string.Join(" | ", errors)}");
    }

    [Fact]
    public void Validate_ValidSnapshot_ReportsNothing() => Assert.Empty(SnapshotValidator.Validate(Valid));

    [Fact]
    public void Validate_SeveralProblems_ReportsAllOfThem()
    {
        var snapshot = Valid with
        {
            Listeners = [Snapshots.Listener(table: "nope")],
            Clusters = [new ClusterConfig("backend", [new EndpointConfig("", 70000)])],
        };

        var errors = SnapshotValidator.Validate(snapshot);

        Assert.Equal(3, errors.Count);
    }
}
