using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;

namespace Trellis.ControlPlane.Tests.Compiler;

/// <summary>
/// An outbound listener's TCP destinations (HTTP CONNECT targets): the opaque ports of Services and ServiceEntry hosts in
/// the workload's view, relayed as their reserved-port listeners would relay them, and the outbound traffic policy for the rest.
/// </summary>
public sealed class TcpDestinationsCompilerTests
{
    private static readonly WorkloadInstance Client = CompilerHarness.Instance("client-1", "client", "v1");

    private const string Mesh = """
        apiVersion: v1
        kind: Service
        metadata: {name: redis}
        spec:
          selector: {app: redis}
          ports: [{port: 6379, name: tcp-redis}, {port: 8080, name: http}]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: apis}
        spec:
          hosts: [api.external.example, "*.wild.example"]
          ports: [{number: 443, name: https, protocol: HTTPS}, {number: 80, name: http, protocol: HTTP}]
          resolution: NONE
        """;

    private static TcpDestinationsConfig Compile(string yaml)
    {
        var snapshot = SnapshotCompiler.Compile(CompilerHarness.Node, CompilerHarness.State(TestResources.Read(yaml), Client));
        return snapshot.Listeners.Single(l => l.Name == "client-1/outbound").Destinations!;
    }

    private static string[] Describe(TcpDestinationsConfig config) => config.Destinations
        .Select(d => $"{string.Join(",", d.Hosts)}:{d.Port} -> {string.Join(" | ", d.Tcp.Routes.Select(r => string.Join(",", r.Clusters.Select(c => c.Cluster))))}")
        .ToArray();

    [Fact]
    public void Compile_OpaquePorts_DestinationsByEveryNameAndPolicyPassthrough()
    {
        var config = Compile(Mesh);

        Assert.Equal(
            [
                "redis.default.svc.cluster.local,redis.default,redis.default.svc,redis:6379 -> outbound|6379||redis.default.svc.cluster.local",
                "*.wild.example:443 -> outbound|443||*.wild.example",
                "api.external.example:443 -> outbound|443||api.external.example",
            ],
            Describe(config));
        Assert.Equal("PassthroughCluster", config.Otherwise);
    }

    [Fact]
    public void Compile_RegistryOnlyAndSidecar_BlackHoleAndOnlyTheViewsHosts()
    {
        var config = Compile(Mesh + """

            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio, namespace: istio-system}
            data:
              mesh: |-
                outboundTrafficPolicy:
                  mode: REGISTRY_ONLY
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: default}
            spec:
              egress: [{hosts: ["./api.external.example"]}]
            """);

        Assert.Equal(["api.external.example:443 -> outbound|443||api.external.example"], Describe(config));
        Assert.Equal("BlackHoleCluster", config.Otherwise);
    }

    [Fact]
    public void Compile_EntryAddresses_TheEntrysFirstHostByAddressWithoutServerName()
    {
        var config = Compile("""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: db}
            spec:
              hosts: [db1.external.example, db2.external.example]
              addresses: [10.9.8.0/24, 192.0.2.7]
              ports: [{number: 5432, name: tcp, protocol: TCP}, {number: 443, name: tls, protocol: TLS}, {number: 80, name: http, protocol: HTTP}]
              resolution: STATIC
              endpoints: [{address: 127.0.0.2}]
            """);

        var byAddress = config.Destinations.Where(d => d.Addresses is { Count: > 0 }).ToList();
        Assert.Equal([5432, 443], byAddress.Select(d => d.Port));
        Assert.All(byAddress, d =>
        {
            Assert.Empty(d.Hosts);
            Assert.Equal(["10.9.8.0/24", "192.0.2.7"], d.Addresses!);
            Assert.Equal([$"outbound|{d.Port}||db1.external.example"], d.Tcp.Routes.SelectMany(r => r.Clusters).Select(c => c.Cluster));
            Assert.All(d.Tcp.Routes, r => Assert.All(r.Matches, m => Assert.Null(m.SniHosts)));
        });
    }
}
