using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;

namespace Trellis.ControlPlane.Tests.Compiler;

/// <summary>VirtualService tcp/tls rules, TCP service ports and TCP gateway servers, compiled from the YAML a user writes.</summary>
public sealed class TcpCompilerTests
{
    private const string Echo = "echo.default.svc.cluster.local";

    private const string Mesh = """
        apiVersion: v1
        kind: Service
        metadata: {name: echo}
        spec:
          selector: {app: echo}
          ports: [{name: tcp-echo, port: 9000}, {name: tls, port: 9443}]
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: echo}
        spec:
          host: echo
          subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
        """;

    private static readonly WorkloadInstance Client = CompilerHarness.Instance("client-1", "client", "v1") is var c
        ? c with { Ports = new Dictionary<string, int>(c.Ports) { [WorkloadInstance.TcpPortKey("default", "echo", 9000)] = 41000, [WorkloadInstance.TcpPortKey("default", "echo", 9443)] = 41001 } }
        : c;

    private static ProxySnapshot Compile(string yaml, ProxyHello? proxy = null)
    {
        var resources = TestResources.Read(Mesh + "\n---\n" + yaml);
        var start = DateTimeOffset.Parse("2024-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        resources = resources.Select((r, i) => r with { Metadata = r.Metadata with { CreationTimestamp = start.AddSeconds(i) } }).ToList();
        return SnapshotCompiler.Compile(proxy ?? CompilerHarness.Node, CompilerHarness.State(resources,
            Client, CompilerHarness.Instance("echo-1", "echo", "v1"), CompilerHarness.Instance("echo-2", "echo", "v2")));
    }

    /// <summary>The routes as text: "name [matches] -> cluster:weight, ..." one per route.</summary>
    private static string[] Routes(ListenerConfig listener) =>
        listener.Tcp!.Routes.Select(r =>
            $"{r.Name} [{string.Join(";", r.Matches.Select(m => string.Join(",", [.. m.DestinationSubnets ?? [], .. m.SniHosts ?? [], m.SourceSubnet ?? ""]).TrimEnd(',')))}] -> "
            + string.Join(", ", r.Clusters.Select(w => $"{w.Cluster}:{w.Weight}"))).ToArray();

    public static TheoryData<string, string, string[]> MeshCases => new()
    {
        {
            "no VirtualService: the service port",
            "",
            [$"default [] -> outbound|9000||{Echo}:100"]
        },
        {
            "weights 80/20",
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: echo}
            spec:
              hosts: [echo]
              tcp:
              - route:
                - {destination: {host: echo, subset: v1}, weight: 80}
                - {destination: {host: echo, subset: v2}, weight: 20}
            """,
            [$"default/echo/tcp/0 [] -> outbound|9000|v1|{Echo}:80, outbound|9000|v2|{Echo}:20"]
        },
        {
            "a match for another port is dropped",
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: echo}
            spec:
              hosts: [echo]
              tcp:
              - match: [{port: 9001}]
                route: [{destination: {host: echo, subset: v2}}]
            """,
            [$"default [] -> outbound|9000||{Echo}:100"]
        },
        {
            "a match for other source labels is dropped; this source's applies",
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: echo}
            spec:
              hosts: [echo]
              tcp:
              - match: [{sourceLabels: {app: other}}]
                route: [{destination: {host: echo, subset: v2}}]
              - match: [{sourceLabels: {app: client}, port: 9000}]
                route: [{destination: {host: echo, subset: v1}}]
            """,
            [$"default/echo/tcp/1 [] -> outbound|9000|v1|{Echo}:100"]
        },
        {
            "destination subnets stay for the proxy; the service port takes the rest",
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: echo}
            spec:
              hosts: [echo]
              tcp:
              - match: [{destinationSubnets: [127.0.0.0/8]}]
                route: [{destination: {host: echo, subset: v2}}]
            """,
            [$"default/echo/tcp/0 [127.0.0.0/8] -> outbound|9000|v2|{Echo}:100", $"default [] -> outbound|9000||{Echo}:100"]
        },
        {
            "gateway-only rules do not apply in the mesh",
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: echo}
            spec:
              hosts: [echo]
              gateways: [web]
              tcp:
              - route: [{destination: {host: echo, subset: v2}}]
            """,
            [$"default [] -> outbound|9000||{Echo}:100"]
        },
    };

    [Theory]
    [MemberData(nameof(MeshCases))]
    public void Compile_OutboundTcpListener_Routes(string scenario, string yaml, string[] expected)
    {
        var snapshot = Compile(yaml);

        var listener = snapshot.Listeners.Single(l => l.Name == "client-1/tcp:default/echo:9000");
        Assert.True(expected.SequenceEqual(Routes(listener)), $"{scenario}: {string.Join(" | ", Routes(listener))}");
        Assert.Equal(("127.0.0.1", 41000, ListenerKind.Outbound, "client-v1"), (listener.Address, listener.Port, listener.Kind, listener.Peer?.Name));
    }

    [Fact]
    public void Compile_TlsServicePort_TlsRulesBySniThenTcpRules()
    {
        var snapshot = Compile("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: echo}
            spec:
              hosts: [echo]
              tls:
              - match: [{sniHosts: [v2.example.com], port: 9443}]
                route: [{destination: {host: echo, subset: v2}}]
              tcp:
              - route: [{destination: {host: echo, subset: v1}}]
            """);

        var tls = snapshot.Listeners.Single(l => l.Name == "client-1/tcp:default/echo:9443");
        Assert.Equal(
            [$"default/echo/tls/0 [v2.example.com] -> outbound|9443|v2|{Echo}:100", $"default/echo/tcp/0 [] -> outbound|9443|v1|{Echo}:100"],
            Routes(tls));
        // The TCP port does not see the tls rules.
        Assert.Equal([$"default/echo/tcp/0 [] -> outbound|9000|v1|{Echo}:100"], Routes(snapshot.Listeners.Single(l => l.Name == "client-1/tcp:default/echo:9000")));
    }

    [Fact]
    public void Compile_InstanceOfTcpService_InboundRelaysTcp()
    {
        var snapshot = Compile("");

        var echo = snapshot.Listeners.Single(l => l.Name == "echo-1/inbound");
        Assert.NotNull(echo.Tcp);
        Assert.Equal("", echo.RouteTable);
        Assert.Equal(["inbound [] -> inbound|30000||echo-1:100".Replace("30000", echo.Tcp!.Routes[0].Clusters[0].Cluster.Split('|')[1], StringComparison.Ordinal)], Routes(echo));
        // The client is selected by no Service: its inbound listener stays HTTP.
        Assert.Null(snapshot.Listeners.Single(l => l.Name == "client-1/inbound").Tcp);
    }

    [Fact]
    public void Compile_WorkloadsWithServiceAccounts_TcpHopsSpeakMeshMtls()
    {
        var deployments = string.Join("\n---\n", new[] { ("client-v1", "client"), ("echo-v1", "echo"), ("echo-v2", "echo") }.Select(d => $$$"""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: {{{d.Item1}}}, namespace: default}
            spec:
              selector: {matchLabels: {workload: {{{d.Item1}}}}}
              template:
                metadata: {labels: {workload: {{{d.Item1}}}}}
                spec:
                  serviceAccountName: {{{d.Item2}}}
                  containers: [{name: app, image: app, command: [app]}]
            """));
        var snapshot = Compile(deployments + "\n---\n" + """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: istio-system}
            spec: {mtls: {mode: STRICT}}
            """);

        // The client's TCP listener speaks as its account; the echo instances' relays present theirs, take STRICT, and
        // are marked as accepting mTLS for auto mTLS (secure naming: the echo account).
        Assert.Equal("spiffe://cluster.local/ns/default/sa/client", snapshot.Listeners.Single(l => l.Name == "client-1/tcp:default/echo:9000").Identity);
        var echo = snapshot.Listeners.Single(l => l.Name == "echo-1/inbound");
        Assert.Equal(("spiffe://cluster.local/ns/default/sa/echo", PeerAuthenticationMode.Strict), (echo.Identity, echo.Mtls));
        Assert.Null(echo.Tcp!.DestinationPort); // two Service ports reach its one application port: AuthorizationPolicy ports match none
        var cluster = snapshot.Clusters.Single(c => c.Name == $"outbound|9000||{Echo}");
        Assert.Equal(["spiffe://cluster.local/ns/default/sa/echo"], cluster.Tls!.PeerIdentities);
        Assert.All(cluster.Endpoints!, e => Assert.True(e.Mtls));
    }

    [Fact]
    public void Compile_ReservedPortOfUnknownService_NoListener()
    {
        var snapshot = SnapshotCompiler.Compile(CompilerHarness.Node, CompilerHarness.State([], Client));

        Assert.DoesNotContain(snapshot.Listeners, l => l.Tcp is not null);
    }

    [Fact]
    public void Compile_GatewayTcpServer_RelaysByBoundTcpRules()
    {
        var snapshot = Compile("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: web}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 31400, name: tcp, protocol: TCP}
                hosts: ["*"]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: echo}
            spec:
              hosts: ["*"]
              gateways: [web]
              tcp:
              - match: [{port: 31400}]
                route:
                - {destination: {host: echo, port: {number: 9000}, subset: v1}, weight: 50}
                - {destination: {host: echo, port: {number: 9000}, subset: v2}, weight: 50}
            """, CompilerHarness.Gateway);

        var listener = snapshot.Listeners.Single(l => l.Name == "gateway/31400");
        Assert.Equal(ListenerKind.Gateway, listener.Kind);
        Assert.False(listener.Tcp!.SniPeek);
        Assert.Equal([$"default/echo/tcp/0 [] -> outbound|9000|v1|{Echo}:50, outbound|9000|v2|{Echo}:50"], Routes(listener));
        Assert.Empty(snapshot.RouteTables);
    }

    [Fact]
    public void Compile_GatewayTlsPassthrough_RoutesBySni()
    {
        var snapshot = Compile("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: web}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 8443, name: tls, protocol: TLS}
                hosts: ["*.example.com"]
                tls: {mode: PASSTHROUGH}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: echo}
            spec:
              hosts: ["*.example.com"]
              gateways: [web]
              tls:
              - match: [{sniHosts: [a.example.com]}]
                route: [{destination: {host: echo, port: {number: 9443}, subset: v1}}]
              - match: [{sniHosts: ["*.example.com"]}]
                route: [{destination: {host: echo, port: {number: 9443}, subset: v2}}]
            """, CompilerHarness.Gateway);

        var listener = snapshot.Listeners.Single(l => l.Name == "gateway/8443");
        Assert.True(listener.Tcp!.SniPeek);
        Assert.Equal(
            [$"default/echo/tls/0 [a.example.com] -> outbound|9443|v1|{Echo}:100", $"default/echo/tls/1 [*.example.com] -> outbound|9443|v2|{Echo}:100"],
            Routes(listener));
    }
}
