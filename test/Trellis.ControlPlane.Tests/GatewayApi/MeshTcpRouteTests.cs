using Trellis.Api;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;
using Trellis.ControlPlane.GatewayApi;
using Trellis.ControlPlane.Tests.Compiler;

namespace Trellis.ControlPlane.Tests.GatewayApi;

/// <summary>GAMMA TCPRoutes and TLSRoutes: routes whose parentRef is a Service take that Service's TCP and TLS ports in the mesh.</summary>
public sealed class MeshTcpRouteTests
{
    private static readonly WorkloadInstance Client = CompilerHarness.Instance("client-1", "client", "v1") is var c
        ? c with
        {
            Ports = new Dictionary<string, int>(c.Ports)
            {
                [WorkloadInstance.TcpPortKey("default", "db", 5432)] = 43000,
                [WorkloadInstance.TcpPortKey("default", "db", 8443)] = 43001,
            },
        }
        : c;

    private const string Services = """
        apiVersion: v1
        kind: Service
        metadata: {name: db}
        spec: {selector: {app: db}, ports: [{port: 5432, name: tcp-postgres}, {port: 8443, name: tls}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: db-v2}
        spec: {selector: {app: db, version: v2}, ports: [{port: 5432, name: tcp-postgres}, {port: 8443, name: tls}]}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: db}
        spec:
          hosts: [db]
          tcp: [{route: [{destination: {host: db, port: {number: 5432}}}]}]
        """;

    private const string Routes = """
        apiVersion: gateway.networking.k8s.io/v1alpha2
        kind: TCPRoute
        metadata: {name: to-v2}
        spec:
          parentRefs: [{group: "", kind: Service, name: db, port: 5432}]
          rules: [{backendRefs: [{name: db-v2, port: 5432, weight: 90}, {name: db, port: 5432, weight: 10}]}]
        ---
        apiVersion: gateway.networking.k8s.io/v1alpha2
        kind: TLSRoute
        metadata: {name: api}
        spec:
          parentRefs: [{group: "", kind: Service, name: db, port: 8443}]
          hostnames: [api.example.com, "*.example.com"]
          rules: [{backendRefs: [{name: db-v2, port: 8443}]}]
        """;

    private static ProxySnapshot Compile(string yaml) =>
        SnapshotCompiler.Compile(CompilerHarness.Node, CompilerHarness.State(TestResources.Read(yaml), Client));

    private static string[] Text(ListenerConfig listener) =>
        listener.Tcp!.Routes.Select(r => $"{r.Name} [{string.Join(",", r.Matches.SelectMany(m => m.SniHosts ?? []))}] -> "
            + string.Join(", ", r.Clusters.Select(w => $"{w.Cluster}:{w.Weight}"))).ToArray();

    [Fact]
    public void Compile_ServiceParent_RoutesReplaceTheVirtualServiceOnTheirPort()
    {
        var snapshot = Compile(Services + "\n---\n" + Routes);

        Assert.Equal(
            ["default/to-v2/rule0 [] -> outbound|5432||db-v2.default.svc.cluster.local:90, outbound|5432||db.default.svc.cluster.local:10"],
            Text(snapshot.Listeners.Single(l => l.Name == "client-1/tcp:default/db:5432")));
        // By server name, the exact name before the wildcard; a name neither takes is closed.
        Assert.Equal(
            [
                "default/api/rule0/api.example.com [api.example.com] -> outbound|8443||db-v2.default.svc.cluster.local:1",
                "default/api/rule0/*.example.com [*.example.com] -> outbound|8443||db-v2.default.svc.cluster.local:1",
            ],
            Text(snapshot.Listeners.Single(l => l.Name == "client-1/tcp:default/db:8443")));
    }

    [Fact]
    public void Compile_NoServiceParent_VirtualServiceAndDefaultStay()
    {
        var snapshot = Compile(Services);

        Assert.Equal(["default/db/tcp/0 [] -> outbound|5432||db.default.svc.cluster.local:100"], Text(snapshot.Listeners.Single(l => l.Name == "client-1/tcp:default/db:5432")));
        Assert.Equal(["default/db/tcp/0 [] -> outbound|5432||db.default.svc.cluster.local:100"], Text(snapshot.Listeners.Single(l => l.Name == "client-1/tcp:default/db:8443")));
    }

    [Fact]
    public void Status_ServiceParent_Accepted()
    {
        var state = CompilerHarness.State(TestResources.Read(Services + "\n---\n" + Routes + """

            ---
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: TCPRoute
            metadata: {name: nowhere}
            spec:
              parentRefs: [{group: "", kind: Service, name: missing}]
              rules: [{backendRefs: [{name: db, port: 5432}]}]
            """), Client);

        var status = GatewayApiStatus.Compute(state, DateTimeOffset.UnixEpoch);

        foreach (var (kind, name) in new[] { ("TCPRoute", "to-v2"), ("TLSRoute", "api") })
        {
            var parent = status[new ResourceKey("gateway.networking.k8s.io", kind, "default", name)]["parents"]![0]!;
            Assert.Equal("Service", (string?)parent["parentRef"]!["kind"]);
            Assert.Equal("Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs",
                string.Join(" ", parent["conditions"]!.AsArray().Select(c => $"{(string?)c!["type"]}={(string?)c["status"]}/{(string?)c["reason"]}")));
        }

        // A Service that does not exist is no parent of Trellis's (as for HTTPRoutes): no status is written.
        Assert.False(status.ContainsKey(new ResourceKey("gateway.networking.k8s.io", "TCPRoute", "default", "nowhere")));
    }
}
