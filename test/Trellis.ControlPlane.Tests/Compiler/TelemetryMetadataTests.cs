using Trellis.Api.Snapshots;
using static Trellis.ControlPlane.Tests.Compiler.CompilerHarness;

namespace Trellis.ControlPlane.Tests.Compiler;

/// <summary>
/// What the compiler tells proxies for Istio's metric labels: the workload each listener speaks for (source on the
/// outbound side, destination on the inbound side), the services an instance stands for, the service of each cluster
/// and the workload of each endpoint.
/// </summary>
public sealed class TelemetryMetadataTests
{
    private const string VersionRoutes = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews}
        spec:
          hosts: [reviews]
          http:
          - route:
            - {destination: {host: reviews, subset: v1}, weight: 90}
            - {destination: {host: reviews, subset: v2}, weight: 10}
        """;

    [Fact]
    public void Compile_NodeListeners_SpeakForTheirInstancesWorkload()
    {
        var snapshot = Compile(VersionRoutes);

        var outbound = snapshot.Listeners.Single(l => l.Name == "productpage-1/outbound");
        Assert.Equal("productpage-v1", outbound.Peer!.Name);
        Assert.Equal("default", outbound.Peer.Namespace);
        Assert.Equal("v1", outbound.Peer.Labels!["version"]);
        Assert.Null(outbound.Services); // the caller's side learns the service from the cluster

        var inbound = snapshot.Listeners.Single(l => l.Name == "reviews-2/inbound");
        Assert.Equal("reviews-v2", inbound.Peer!.Name);
        Assert.Equal("reviews", inbound.Peer.Labels!["app"]);
        Assert.Equal(new ServiceMetadata(Reviews, "reviews", "default"), Assert.Single(inbound.Services!));
    }

    [Fact]
    public void Compile_SubsetClusters_CarryTheServiceAndEachEndpointsWorkload()
    {
        var snapshot = Compile(VersionRoutes);

        var v2 = Cluster(snapshot, "v2");
        Assert.Equal(new ServiceMetadata(Reviews, "reviews", "default", 9080), v2.Service); // the port a client span is named after
        var endpoint = Assert.Single(v2.Endpoints);
        Assert.Equal("reviews-v2", endpoint.Workload);
        Assert.Equal("default", endpoint.Namespace);
        Assert.Equal("v2", endpoint.Labels!["version"]);
        Assert.Equal("reviews-v1", Assert.Single(Cluster(snapshot, "v1").Endpoints).Workload);
    }

    [Fact]
    public void Compile_GatewayListeners_SpeakForTheGatewayProxy()
    {
        var snapshot = Compile(IngressGateway + "\n---\n" + VersionRoutes.Replace("hosts: [reviews]", "hosts: [\"*\"]\n  gateways: [web]", StringComparison.Ordinal), Gateway);

        var listener = Assert.Single(snapshot.Listeners);
        Assert.Equal("g", listener.Peer!.Name); // gateway/g without the role prefix
        Assert.Equal("ingressgateway", listener.Peer.Labels!["istio"]);
    }
}
