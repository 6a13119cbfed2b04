using System.Collections.Immutable;
using Trellis.Api.GatewayApi;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;
using Trellis.ControlPlane.Compiler.GatewayApi;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.Tests.GatewayApi;

/// <summary>GRPCRoutes compiled into proxy routes on Gateways and in the mesh (GAMMA), with HTTP/2 upstreams.</summary>
public sealed class GrpcRouteCompileTests
{
    private static readonly ProxyHello Gateway = new("gateway/g", ProxyRole.Gateway, null, new Dictionary<string, string>());
    private static readonly ProxyHello Node = new("node/n1", ProxyRole.Node, "n1", new Dictionary<string, string>());

    private const string Gateways = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: trellis}
        spec: {controllerName: trellis.dev/gateway-controller}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: gw, namespace: infra}
        spec:
          gatewayClassName: trellis
          listeners: [{name: http, port: 80, protocol: HTTP}]
        status: {addresses: [{type: IPAddress, value: 127.0.100.7}]}
        """;

    private static string Backend(string name) => $$"""
        apiVersion: v1
        kind: Service
        metadata: {name: {{name}}, namespace: infra}
        spec: {selector: {app: {{name}}}, ports: [{port: 8080, name: grpc}]}
        """;

    private static string Route(string rules, string parent = "{name: gw}", string hostnames = "[]") => $"""
        apiVersion: gateway.networking.k8s.io/v1
        kind: GRPCRoute
        metadata: {"{"}name: r, namespace: infra{"}"}
        spec:
          parentRefs: [{parent}]
          hostnames: {hostnames}
          rules:
        {rules}
        """;

    [Theory]
    [InlineData("Exact", "echo.Echo", "Say", StringMatchKind.Exact, "/echo.Echo/Say")]
    [InlineData("Exact", "echo.Echo", null, StringMatchKind.Prefix, "/echo.Echo/")]
    [InlineData("Exact", null, "Say", StringMatchKind.Regex, "/[^/]+/Say")]
    [InlineData("RegularExpression", "echo\\..*", null, StringMatchKind.Regex, "/echo\\..*/[^/]+")]
    [InlineData("RegularExpression", null, "S.y", StringMatchKind.Regex, "/[^/]+/S.y")]
    public void Path_MethodMatch_AsIstioWritesIt(string type, string? service, string? method, StringMatchKind kind, string value)
    {
        var (uri, _, _) = GrpcRouteRules.Path(new GrpcMethodMatch { Type = type, Service = service, Method = method });

        Assert.Equal(new StringMatchConfig(kind, value), uri);
    }

    [Fact]
    public void Compile_GrpcRouteOnGateway_MethodsHeadersAndWeightsOverHttp2()
    {
        var route = Route("""
              - matches: [{method: {service: echo.Echo}}]
                backendRefs: [{name: v2, port: 8080}]
              - matches: [{method: {service: echo.Echo, method: Say}, headers: [{name: Version, value: one}]}]
                backendRefs: [{name: v1, port: 8080, weight: 90}, {name: v2, port: 8080, weight: 10}]
              - backendRefs: [{name: v3, port: 8080}]
            """, hostnames: "[grpc.example.com]");
        var snapshot = SnapshotCompiler.Compile(Gateway, State([Gateways, Backend("v1"), Backend("v2"), Backend("v3"), route]));

        var listener = Assert.Single(snapshot.Listeners);
        var host = snapshot.RouteTables.Single(t => t.Name == listener.RouteTable).VirtualHosts.Single();
        Assert.Equal(["grpc.example.com"], host.Domains);
        // The exact method before the service prefix, before the match-all rule.
        Assert.Equal(["Exact /echo.Echo/Say version=one v1:90,v2:10", "Prefix /echo.Echo/ v2:1", "- v3:1"], host.Routes.Select(Describe));
        var clusters = host.Routes.SelectMany(r => r.Clusters).Select(c => snapshot.Clusters.Single(k => k.Name == c.Cluster));
        Assert.All(clusters, c => Assert.Equal(UpstreamProtocol.Http2, c.Protocol));
    }

    [Fact]
    public void Compile_GrpcRouteOnService_AppliesInTheMesh()
    {
        var route = Route("""
              - matches: [{method: {service: echo.Echo, method: Say}}]
                backendRefs: [{name: v2, port: 8080}]
              - backendRefs: [{name: v1, port: 8080}]
            """, parent: "{group: \"\", kind: Service, name: echo, port: 8080}");
        var snapshot = SnapshotCompiler.Compile(Node, State([Backend("echo"), Backend("v1"), Backend("v2"), route], Client()));

        var host = snapshot.RouteTables.SelectMany(t => t.VirtualHosts).Single(h => h.Name == "echo.infra.svc.cluster.local:8080");
        Assert.Equal(["Exact /echo.Echo/Say v2:1", "- v1:1"], host.Routes.Select(Describe));
    }

    [Fact]
    public void Compile_GrpcBackendFilters_OnThePickedDestination()
    {
        // Per-backend filters are the picked destination's header operations, applied by the pipeline on every path
        // (HTTP/2 upstreams included: the Kestrel path writes the same upstream head).
        var route = Route("""
              - backendRefs:
                - name: v1
                  port: 8080
                  filters:
                  - type: RequestHeaderModifier
                    requestHeaderModifier: {set: [{name: x-backend, value: v1}], remove: [x-debug]}
                  - type: ResponseHeaderModifier
                    responseHeaderModifier: {add: [{name: x-served-by, value: v1}]}
            """);
        var snapshot = SnapshotCompiler.Compile(Gateway, State([Gateways, Backend("v1"), route]));

        var destination = snapshot.RouteTables.SelectMany(t => t.VirtualHosts).SelectMany(h => h.Routes).Single().Clusters.Single();
        Assert.Equal("v1", destination.RequestHeaders!.Set!["x-backend"]);
        Assert.Equal(["x-debug"], destination.RequestHeaders.Remove);
        Assert.Equal("v1", destination.ResponseHeaders!.Add!["x-served-by"]);
    }

    private static string Describe(RouteConfig route)
    {
        var match = route.Matches.Count > 0 ? route.Matches[0] : null;
        var path = match?.Uri is { } uri ? $"{uri.Kind} {uri.Value}" : "-";
        var headers = match?.Headers is { } h ? " " + string.Join(" ", h.Select(x => $"{x.Key}={x.Value.Value}")) : "";
        var clusters = string.Join(",", route.Clusters.Select(c => $"{c.Cluster.Split('|')[3].Split('.')[0]}:{c.Weight}"));
        return $"{path}{headers} {clusters}";
    }

    private static WorkloadInstance Client() =>
        new("client-1", "n1", "client", "infra", new Dictionary<string, string> { ["app"] = "client" }, "127.0.0.1",
            new Dictionary<string, int> { ["app"] = 31000, ["inbound"] = 31001, ["outbound"] = 31002 }, "Ready", true, 0, null, null, null);

    private static MeshState State(IEnumerable<string> yaml, params WorkloadInstance[] instances)
    {
        var objects = yaml.SelectMany(TestResources.Read).Select((r, i) => new StoredResource(r, i + 1)).ToImmutableDictionary(o => o.Resource.Key);
        return new MeshState(1, new StoreSnapshot(objects.Count, objects), instances);
    }
}
