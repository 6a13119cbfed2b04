using System.Collections.Immutable;
using Trellis.Api;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;
using Trellis.ControlPlane.GatewayApi;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.Tests.GatewayApi;

/// <summary>Gateway API TLSRoutes on TLS Passthrough listeners: relays that route by the ClientHello's server name, status as for the other routes.</summary>
public sealed class TlsRouteCompileTests
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
          - {name: tls, port: 443, protocol: TLS, hostname: "*.example.com", tls: {mode: Passthrough}}
          - {name: terminated, port: 8443, protocol: TLS, tls: {mode: Terminate, certificateRefs: [{name: cert}]}}
        status: {addresses: [{type: IPAddress, value: 127.0.100.7}]}
        """;

    private static string Backend(string name) => $$"""
        apiVersion: v1
        kind: Service
        metadata: {name: {{name}}, namespace: infra}
        spec: {selector: {app: {{name}}}, ports: [{port: 8443, name: tls}]}
        """;

    private static string Route(string name, string hostnames, string backends, string parent = "{name: gw}") => $$"""
        apiVersion: gateway.networking.k8s.io/v1alpha2
        kind: TLSRoute
        metadata: {name: {{name}}, namespace: infra, creationTimestamp: "2024-01-01T00:00:0{{name.Length % 10}}Z"}
        spec:
          parentRefs: [{{parent}}]
          hostnames: {{hostnames}}
          rules:
          - backendRefs: {{backends}}
        """;

    [Fact]
    public void Compile_TlsRoutesOnAPassthroughListener_RouteByServerName_MostSpecificFirst()
    {
        var snapshot = SnapshotCompiler.Compile(Gateway, State([Gateways, Backend("a"), Backend("b"), Backend("c"),
            Route("any", "[]", "[{name: c, port: 8443}]"),
            Route("exact", "[api.example.com]", "[{name: a, port: 8443, weight: 3}, {name: b, port: 8443, weight: 1}]"),
            Route("other", "[other.org]", "[{name: b, port: 8443}]")]));

        var listener = snapshot.Listeners.Single(l => l.Tcp is not null);
        Assert.Equal(("gatewayapi/infra/gw/443", "127.0.100.7", 443), (listener.Name, listener.Address, listener.Port));
        Assert.True(listener.Tcp!.SniPeek);
        // api.example.com first; the route without hostnames takes the listener's *.example.com; other.org does not intersect.
        Assert.Equal(
            ["api.example.com: outbound|8443||a.infra.svc.cluster.local:3,outbound|8443||b.infra.svc.cluster.local:1", "*.example.com: outbound|8443||c.infra.svc.cluster.local:1"],
            listener.Tcp.Routes.Select(r => $"{r.Matches.Single().SniHosts!.Single()}: {string.Join(',', r.Clusters.Select(c => $"{c.Cluster}:{c.Weight}"))}"));
        Assert.DoesNotContain(snapshot.Listeners, l => l.Port == 8443); // a terminated TLS listener is not served
    }

    [Fact]
    public void Status_TlsRouteAndListeners_AcceptedWithTheSpecsReasons()
    {
        var state = State([Gateways, Backend("a"),
            Route("ok", "[api.example.com]", "[{name: a, port: 8443}]"),
            Route("elsewhere", "[other.org]", "[{name: a, port: 8443}]"),
            Route("missing", "[api.example.com]", "[{name: nope, port: 8443}]")]);

        var status = GatewayApiStatus.Compute(state, DateTimeOffset.UnixEpoch);

        Assert.Equal("Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs", Conditions(status, "ok"));
        Assert.Equal("Accepted=False/NoMatchingListenerHostname ResolvedRefs=True/ResolvedRefs", Conditions(status, "elsewhere"));
        Assert.Equal("Accepted=True/Accepted ResolvedRefs=False/BackendNotFound", Conditions(status, "missing"));
        var listeners = status[new ResourceKey("gateway.networking.k8s.io", "Gateway", "infra", "gw")]["listeners"]!.AsArray();
        var tls = listeners.Single(l => (string?)l!["name"] == "tls")!;
        Assert.Equal(2, (int?)tls["attachedRoutes"]);
        Assert.Equal("TLSRoute", (string?)tls["supportedKinds"]![0]!["kind"]);
        Assert.Equal("Accepted=True Programmed=True", Listener(tls));
        Assert.Equal("Accepted=False Programmed=False", Listener(listeners.Single(l => (string?)l!["name"] == "terminated")!));
    }

    private static string Listener(System.Text.Json.Nodes.JsonNode listener) =>
        string.Join(" ", listener["conditions"]!.AsArray().Where(c => (string?)c!["type"] is "Accepted" or "Programmed").Select(c => $"{(string?)c!["type"]}={(string?)c["status"]}"));

    private static string Conditions(Dictionary<ResourceKey, System.Text.Json.Nodes.JsonObject> status, string route) =>
        string.Join(" ", status[new ResourceKey("gateway.networking.k8s.io", "TLSRoute", "infra", route)]["parents"]![0]!["conditions"]!.AsArray()
            .Select(c => $"{(string?)c!["type"]}={(string?)c["status"]}/{(string?)c["reason"]}"));

    private static MeshState State(IEnumerable<string> yaml, params WorkloadInstance[] instances)
    {
        var objects = yaml.SelectMany(TestResources.Read).Select((r, i) => new StoredResource(r, i + 1)).ToImmutableDictionary(o => o.Resource.Key);
        return new MeshState(1, new StoreSnapshot(objects.Count, objects), instances);
    }
}
