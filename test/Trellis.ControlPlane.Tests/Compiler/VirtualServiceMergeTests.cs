using static Trellis.ControlPlane.Tests.Compiler.CompilerHarness;

namespace Trellis.ControlPlane.Tests.Compiler;

/// <summary>Several VirtualServices for one host: merged on gateways as Istio merges them, one (the oldest) in the mesh.</summary>
public sealed class VirtualServiceMergeTests
{
    private const string Older = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: older}
        spec:
          hosts: ["*"]
          gateways: [web, mesh]
          http:
          - match: [{uri: {prefix: /a}}, {uri: {prefix: /}}]
            route: [{destination: {host: reviews, subset: v1, port: {number: 9080}}}]
        """;

    private const string Younger = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: younger}
        spec:
          hosts: ["*"]
          gateways: [web, mesh]
          http:
          - match: [{uri: {prefix: /b}}]
            route: [{destination: {host: reviews, subset: v2, port: {number: 9080}}}]
          - route: [{destination: {host: reviews, subset: v3, port: {number: 9080}}}]
        """;

    [Fact]
    public void Compile_GatewayVirtualServicesForOneHost_MergeWithCatchAllsLast()
    {
        var snapshot = Compile(IngressGateway + "\n---\n" + Older + "\n---\n" + Younger, Gateway);

        var routes = GatewayRoutes(snapshot);
        Assert.Equal(
            ["default/older/0 /a -> v1", "default/younger/0 /b -> v2", "default/older/0 / -> v1", "default/younger/1 * -> v3"],
            routes.Select(r => $"{r.Name} {(r.Matches.Count == 0 ? "*" : string.Join(",", r.Matches.Select(m => m.Uri!.Value)))} -> {r.Clusters.Single().Cluster.Split('|')[2]}"));
    }

    [Fact]
    public void Compile_MeshVirtualServicesForOneHost_TheOldestApplies()
    {
        var snapshot = Compile(Younger.Replace("younger", "first", StringComparison.Ordinal) + "\n---\n" + Older.Replace("older", "second", StringComparison.Ordinal));

        Assert.All(OutboundRoutes(snapshot), r => Assert.StartsWith("default/first/", r.Name, StringComparison.Ordinal));
    }

    [Fact]
    public void Compile_MeshVirtualServices_ExactHostBeforeWildcard()
    {
        var exact = Older.Replace("older", "zz-exact", StringComparison.Ordinal).Replace("\"*\"", "reviews", StringComparison.Ordinal);
        var snapshot = Compile(Younger + "\n---\n" + exact);

        Assert.All(OutboundRoutes(snapshot), r => Assert.StartsWith("default/zz-exact/", r.Name, StringComparison.Ordinal));
    }
}
