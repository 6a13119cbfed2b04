using System.Collections.Immutable;
using Trellis.Api;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.Tests.Compiler;

/// <summary>Compiles YAML the way a user writes it against a small bookinfo-like mesh, for table-driven compiler tests.</summary>
internal static class CompilerHarness
{
    public const string Reviews = "reviews.default.svc.cluster.local";
    public static readonly ProxyHello Node = new("node/n1", ProxyRole.Node, "n1", new Dictionary<string, string>());
    public static readonly ProxyHello Gateway = new("gateway/g", ProxyRole.Gateway, null, new Dictionary<string, string> { ["istio"] = "ingressgateway" });

    public const string IngressGateway = """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: web}
        spec:
          selector: {istio: ingressgateway}
          servers:
          - port: {number: 8080, name: http, protocol: HTTP}
            hosts: ["*"]
        """;

    /// <summary>The snapshot of node n1 (or <paramref name="proxy"/>) with the reviews Service, its three versions and <paramref name="yaml"/>.</summary>
    public static ProxySnapshot Compile(string yaml, ProxyHello? proxy = null, bool withRule = true, WorkloadInstance[]? instances = null)
    {
        var resources = new List<Resource> { TestResources.One(TestResources.ReviewsService) };
        if (withRule)
        {
            resources.Add(TestResources.One(TestResources.ReviewsRule));
        }

        // Each document is one second younger than the one before, so Istio's oldest-first order is the file's order.
        var start = DateTimeOffset.Parse("2024-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        var read = TestResources.Read(yaml);
        resources.AddRange(read.Select((r, i) => r with { Metadata = r.Metadata with { CreationTimestamp = start.AddSeconds(i) } }));
        return SnapshotCompiler.Compile(proxy ?? Node, State(resources, instances ?? Instances()));
    }

    /// <summary>The routes of the reviews virtual host seen from productpage's outbound listener.</summary>
    public static IReadOnlyList<RouteConfig> OutboundRoutes(ProxySnapshot snapshot)
    {
        var listener = snapshot.Listeners.Single(l => l.Name == "productpage-1/outbound");
        return snapshot.RouteTables.Single(t => t.Name == listener.RouteTable).VirtualHosts.Single(h => h.Domains.Contains(Reviews)).Routes;
    }

    public static IReadOnlyList<RouteConfig> GatewayRoutes(ProxySnapshot snapshot, string host = "*") =>
        snapshot.RouteTables.Single().VirtualHosts.Single(h => h.Domains.Contains(host)).Routes;

    public static ClusterConfig Cluster(ProxySnapshot snapshot, string? subset, int port = 9080) =>
        snapshot.Clusters.Single(c => c.Name == $"outbound|{port}|{subset}|{Reviews}");

    public static WorkloadInstance[] Instances() =>
    [
        Instance("productpage-1", "productpage", "v1"),
        Instance("reviews-1", "reviews", "v1"),
        Instance("reviews-2", "reviews", "v2"),
        Instance("reviews-3", "reviews", "v3"),
    ];

    public static WorkloadInstance Instance(string id, string app, string version)
    {
        var inbound = 20000 + (Math.Abs(id.GetHashCode(StringComparison.Ordinal)) % 10000);
        return new WorkloadInstance(id, "n1", $"{app}-{version}", "default",
            new Dictionary<string, string> { ["app"] = app, ["version"] = version }, "127.0.0.1",
            new Dictionary<string, int> { ["app"] = inbound + 10000, ["inbound"] = inbound, ["outbound"] = inbound + 20000 },
            "Ready", true, 0, null, null, null);
    }

    public static MeshState State(IEnumerable<Resource> resources, params WorkloadInstance[] instances)
    {
        var objects = resources.Select((r, i) => new StoredResource(r, i + 1)).ToImmutableDictionary(o => o.Resource.Key);
        return new MeshState(1, new StoreSnapshot(objects.Count, objects), instances);
    }
}
