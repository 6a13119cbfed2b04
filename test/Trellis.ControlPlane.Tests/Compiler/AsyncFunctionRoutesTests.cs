using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;

namespace Trellis.ControlPlane.Tests.Compiler;

/// <summary>OpenFaaS's <c>/async-function/</c> on the gateway: reserved first on every host, sent to the eventing listener.</summary>
public sealed class AsyncFunctionRoutesTests
{
    private const string CatchAll = """
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: site}
        spec:
          hosts: [shop.example.com]
          gateways: [web]
          http:
          - route:
            - destination: {host: reviews}
        """;

    private static ProxySnapshot Compile(Uri? eventing)
    {
        var resources = new List<Trellis.Api.Resource> { TestResources.One(TestResources.ReviewsService) };
        resources.AddRange(TestResources.Read(CompilerHarness.IngressGateway + "\n" + CatchAll));
        return SnapshotCompiler.Compile(CompilerHarness.Gateway, CompilerHarness.State(resources, CompilerHarness.Instances()) with { AsyncFunctions = eventing });
    }

    [Fact]
    public void Compile_WithEventing_EveryGatewayHostRoutesAsyncFunctionFirst_ToTheEventingListener()
    {
        var snapshot = Compile(new Uri("http://127.0.0.1:15080/"));

        var hosts = snapshot.RouteTables.Single().VirtualHosts;
        var shop = hosts.Single(h => h.Domains.Contains("shop.example.com"));
        Assert.Equal(AsyncFunctionRoutes.RouteName, shop.Routes[0].Name); // before the host's catch-all
        Assert.Equal(new StringMatchConfig(StringMatchKind.Prefix, "/async-function/"), shop.Routes[0].Matches.Single().Uri);
        Assert.Equal(2, shop.Routes.Count);
        var any = hosts.Single(h => h.Domains.Contains("*")); // a client naming the gateway by its address
        var cluster = snapshot.Clusters.Single(c => c.Name == any.Routes.Single().Clusters.Single().Cluster);
        Assert.Equal(new EndpointConfig("127.0.0.1", 15080), cluster.Endpoints.Single());
    }

    [Fact]
    public void Compile_WithoutEventing_NoAsyncRoute()
    {
        var snapshot = Compile(eventing: null);

        Assert.DoesNotContain(snapshot.RouteTables.SelectMany(t => t.VirtualHosts).SelectMany(h => h.Routes), r => r.Name == AsyncFunctionRoutes.RouteName);
        Assert.DoesNotContain(snapshot.RouteTables.Single().VirtualHosts, h => h.Domains.Contains("*"));
    }
}
