using System.Collections.Immutable;
using Trellis.Api;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;
using Trellis.ControlPlane.GatewayApi;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.Tests.GatewayApi;

/// <summary>Gateway API TCPRoutes on TCP listeners: relays by backend weight, attachment and status as for HTTPRoutes.</summary>
public sealed class TcpRouteCompileTests
{
    private static readonly ProxyHello Gateway = new("gateway/g", ProxyRole.Gateway, null, new Dictionary<string, string>());

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
          listeners:
          - {name: db, port: 5432, protocol: TCP}
          - {name: web, port: 80, protocol: HTTP}
        status: {addresses: [{type: IPAddress, value: 127.0.100.7}]}
        """;

    private static string Backend(string name) => $$"""
        apiVersion: v1
        kind: Service
        metadata: {name: {{name}}, namespace: infra}
        spec: {selector: {app: {{name}}}, ports: [{port: 5432, name: tcp-postgres}]}
        """;

    private static string Route(string name, string backends, string parent = "{name: gw, sectionName: db}", string ns = "infra") => $$"""
        apiVersion: gateway.networking.k8s.io/v1alpha2
        kind: TCPRoute
        metadata: {name: {{name}}, namespace: {{ns}}, creationTimestamp: "2024-01-01T00:00:0{{name.Length % 10}}Z"}
        spec:
          parentRefs: [{{parent}}]
          rules:
          - backendRefs: {{backends}}
        """;

    [Fact]
    public void Compile_TcpRouteOnTcpListener_RelaysByBackendWeight()
    {
        var snapshot = SnapshotCompiler.Compile(Gateway, State([Gateways, Backend("a"), Backend("b"),
            Route("split", "[{name: a, port: 5432, weight: 90}, {name: b, port: 5432, weight: 10}]")]));

        var listener = snapshot.Listeners.Single(l => l.Tcp is not null);
        Assert.Equal(("gatewayapi/infra/gw/5432", "127.0.100.7", 5432, ListenerKind.Gateway), (listener.Name, listener.Address, listener.Port, listener.Kind));
        var route = Assert.Single(listener.Tcp!.Routes);
        Assert.Empty(route.Matches);
        Assert.Equal(["outbound|5432||a.infra.svc.cluster.local:90", "outbound|5432||b.infra.svc.cluster.local:10"], route.Clusters.Select(c => $"{c.Cluster}:{c.Weight}"));
    }

    [Fact]
    public void Compile_TwoTcpRoutesOnOneListener_TheOldestTakesThePort()
    {
        var snapshot = SnapshotCompiler.Compile(Gateway, State([Gateways, Backend("a"), Backend("b"),
            Route("newer", "[{name: b, port: 5432}]"), Route("old", "[{name: a, port: 5432}]")]));

        var route = Assert.Single(snapshot.Listeners.Single(l => l.Tcp is not null).Tcp!.Routes);
        Assert.Equal(["outbound|5432||a.infra.svc.cluster.local"], route.Clusters.Select(c => c.Cluster));
    }

    [Fact]
    public void Compile_InvalidBackend_KeepsItsShareWithoutEndpoints()
    {
        var snapshot = SnapshotCompiler.Compile(Gateway, State([Gateways, Backend("a"),
            Route("r", "[{name: a, port: 5432}, {name: missing, port: 5432}]")]));

        var route = Assert.Single(snapshot.Listeners.Single(l => l.Tcp is not null).Tcp!.Routes);
        var invalid = snapshot.Clusters.Single(c => c.Name == route.Clusters[1].Cluster);
        Assert.Empty(invalid.Endpoints);
        Assert.Equal(1, route.Clusters[1].Weight);
    }

    [Fact]
    public void Status_TcpRouteAndListener_AcceptedWithTheSpecsReasons()
    {
        var state = State([Gateways, Backend("a"),
            Route("ok", "[{name: a, port: 5432}]"),
            Route("http-listener", "[{name: a, port: 5432}]", parent: "{name: gw, sectionName: web}"),
            Route("missing", "[{name: nope, port: 5432}]")]);

        var status = GatewayApiStatus.Compute(state, DateTimeOffset.UnixEpoch);

        Assert.Equal("Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs", Conditions(status, "ok"));
        Assert.Equal("Accepted=False/NotAllowedByListeners ResolvedRefs=True/ResolvedRefs", Conditions(status, "http-listener"));
        Assert.Equal("Accepted=True/Accepted ResolvedRefs=False/BackendNotFound", Conditions(status, "missing"));
        var db = status[new ResourceKey("gateway.networking.k8s.io", "Gateway", "infra", "gw")]["listeners"]!.AsArray().Single(l => (string?)l!["name"] == "db")!;
        Assert.Equal(2, (int?)db["attachedRoutes"]);
        Assert.Equal("TCPRoute", (string?)db["supportedKinds"]![0]!["kind"]);
        Assert.Equal("Accepted=True Programmed=True",
            string.Join(" ", db["conditions"]!.AsArray().Where(c => (string?)c!["type"] is "Accepted" or "Programmed").Select(c => $"{(string?)c!["type"]}={(string?)c["status"]}")));
    }

    private static string Conditions(Dictionary<ResourceKey, System.Text.Json.Nodes.JsonObject> status, string route) =>
        string.Join(" ", status[new ResourceKey("gateway.networking.k8s.io", "TCPRoute", "infra", route)]["parents"]![0]!["conditions"]!.AsArray()
            .Select(c => $"{(string?)c!["type"]}={(string?)c["status"]}/{(string?)c["reason"]}"));

    private static MeshState State(IEnumerable<string> yaml, params WorkloadInstance[] instances)
    {
        var objects = yaml.SelectMany(TestResources.Read).Select((r, i) => new StoredResource(r, i + 1)).ToImmutableDictionary(o => o.Resource.Key);
        return new MeshState(1, new StoreSnapshot(objects.Count, objects), instances);
    }
}
