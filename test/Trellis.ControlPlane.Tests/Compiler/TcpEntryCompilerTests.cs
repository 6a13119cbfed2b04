using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;

namespace Trellis.ControlPlane.Tests.Compiler;

/// <summary>TCP and TLS ports of ServiceEntries as outbound TCP listeners on the ports the agent reserved for them.</summary>
public sealed class TcpEntryCompilerTests
{
    private static readonly WorkloadInstance Client = CompilerHarness.Instance("client-1", "client", "v1") is var c
        ? c with
        {
            Ports = new Dictionary<string, int>(c.Ports)
            {
                [WorkloadInstance.EntryPortKey("default", "db", 5432)] = 42000,
                [WorkloadInstance.EntryPortKey("default", "apis", 443)] = 42001,
            },
        }
        : c;

    private static ProxySnapshot Compile(string yaml)
    {
        var resources = TestResources.Read(yaml);
        var start = DateTimeOffset.Parse("2024-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        resources = resources.Select((r, i) => r with { Metadata = r.Metadata with { CreationTimestamp = start.AddSeconds(i) } }).ToList();
        return SnapshotCompiler.Compile(CompilerHarness.Node, CompilerHarness.State(resources, Client));
    }

    private static string[] Routes(ListenerConfig listener) =>
        listener.Tcp!.Routes.Select(r =>
            $"{r.Name} [{string.Join(";", r.Matches.Select(m => string.Join(",", [.. m.DestinationSubnets ?? [], .. m.SniHosts ?? []])))}] -> "
            + string.Join(", ", r.Clusters.Select(w => $"{w.Cluster}:{w.Weight}"))).ToArray();

    private const string Database = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: db}
        spec:
          hosts: [db.external.example]
          ports: [{number: 5432, name: tcp-pg, protocol: TCP}]
          location: MESH_EXTERNAL
          resolution: RESOLUTION
          ENDPOINTS
        """;

    public static TheoryData<string, string, string[], string[], LoadBalancerKind> DatabaseCases => new()
    {
        { "STATIC: the entry's endpoints", "STATIC", ["endpoints: [{address: 127.0.0.2}, {address: 127.0.0.3, ports: {tcp-pg: 6432}}]"], ["127.0.0.2:5432", "127.0.0.3:6432"], LoadBalancerKind.RoundRobin },
        { "DNS: the host, resolved when connecting", "DNS", [""], ["db.external.example:5432"], LoadBalancerKind.RoundRobin },
        { "DNS: the endpoints' names", "DNS", ["endpoints: [{address: db1.internal.example}]"], ["db1.internal.example:5432"], LoadBalancerKind.RoundRobin },
        { "NONE: passthrough to the host", "NONE", [""], [], LoadBalancerKind.Passthrough },
    };

    [Theory]
    [MemberData(nameof(DatabaseCases))]
    public void Compile_EntryTcpPort_RelaysToTheEntryByResolution(string scenario, string resolution, string[] endpoints, string[] expected, LoadBalancerKind balancer)
    {
        var snapshot = Compile(Database.Replace("RESOLUTION", resolution, StringComparison.Ordinal).Replace("ENDPOINTS", endpoints[0], StringComparison.Ordinal));

        var listener = snapshot.Listeners.Single(l => l.Name == "client-1/se:default/db:5432");
        Assert.Equal(("127.0.0.1", 42000, ListenerKind.Outbound), (listener.Address, listener.Port, listener.Kind));
        Assert.Equal(["default [] -> outbound|5432||db.external.example:100"], Routes(listener));
        Assert.Equal(new OriginalDestinationConfig("db.external.example", 5432), listener.Tcp!.Original);
        var cluster = snapshot.Clusters.Single(c => c.Name == "outbound|5432||db.external.example");
        Assert.True(expected.SequenceEqual(cluster.Endpoints.Select(e => $"{e.Address}:{e.Port}")), scenario);
        Assert.Equal(balancer, cluster.LoadBalancer);
    }

    [Fact]
    public void Compile_EntryTlsPort_ChosenByServerNamePerHostAfterTlsRules()
    {
        var snapshot = Compile("""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: apis}
            spec:
              hosts: [a.external.example, "*.b.external.example"]
              ports: [{number: 443, name: https, protocol: HTTPS}]
              resolution: NONE
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: a}
            spec:
              hosts: [a.external.example]
              tls:
              - match: [{sniHosts: [a.external.example], port: 443}]
                route: [{destination: {host: x.b.external.example}}]
            """);

        var listener = snapshot.Listeners.Single(l => l.Name == "client-1/se:default/apis:443");
        Assert.Equal(42001, listener.Port);
        Assert.True(listener.Tcp!.SniPeek);
        Assert.Equal(new OriginalDestinationConfig(null, 443), listener.Tcp.Original);
        Assert.Equal(
            [
                "default/a/tls/0 [a.external.example] -> outbound|443||x.b.external.example:100",
                "default/a.external.example [a.external.example] -> outbound|443||a.external.example:100",
                "default/*.b.external.example [*.b.external.example] -> outbound|443||*.b.external.example:100",
            ],
            Routes(listener));
    }

    [Fact]
    public void Compile_EntryHttpPortOrHostOwnedElsewhere_NoListener()
    {
        var snapshot = Compile("""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: older}
            spec:
              hosts: [a.external.example]
              ports: [{number: 443, name: tls, protocol: TLS}]
              resolution: NONE
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: apis}
            spec:
              hosts: [a.external.example]
              ports: [{number: 443, name: tls, protocol: TLS}]
              resolution: NONE
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: db}
            spec:
              hosts: [db.external.example]
              ports: [{number: 5432, name: http, protocol: HTTP}]
              resolution: DNS
            """);

        Assert.DoesNotContain(snapshot.Listeners, l => l.Tcp is not null);
    }
}
