using Trellis.Api.Networking;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;
using static Trellis.ControlPlane.Tests.Compiler.CompilerHarness;

namespace Trellis.ControlPlane.Tests.Compiler;

/// <summary>ServiceEntries, the outbound traffic policy and Sidecar views, compiled from the YAML a user writes.</summary>
public sealed class EgressCompilerTests
{
    private const string External = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: external}
        spec:
          hosts: [api.external.test]
          location: MESH_EXTERNAL
          ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}, {number: 9090, name: grpc, protocol: GRPC}]
          resolution: STATIC
          endpoints:
          - {address: 127.0.0.2, labels: {version: a}}
          - {address: 127.0.0.3, ports: {http: 18080}, labels: {version: b}}
        """;

    [Fact]
    public void Compile_StaticServiceEntry_HostReachableWithItsEndpoints()
    {
        var snapshot = Compile(External);

        var host = Outbound(snapshot, "api.external.test");
        Assert.Equal(["api.external.test:80", "api.external.test"], host.Domains);
        var cluster = snapshot.Clusters.Single(c => c.Name == host.Routes.Single().Clusters.Single().Cluster);
        Assert.Equal("outbound|80||api.external.test", cluster.Name);
        // targetPort where the endpoint names no port of its own, its own mapping where it does.
        Assert.Equal(["127.0.0.2:8080", "127.0.0.3:18080"], cluster.Endpoints.Select(e => $"{e.Address}:{e.Port}"));
        Assert.Equal(UpstreamProtocol.Http1, cluster.Protocol);
        Assert.Equal(HttpPolicies.DefaultRetry, host.Routes.Single().Retry);
    }

    [Fact]
    public void Compile_ServiceEntryGrpcPort_Http2Upstream()
    {
        var snapshot = Compile(External);

        var host = Outbound(snapshot, "api.external.test:9090");
        var cluster = snapshot.Clusters.Single(c => c.Name == host.Routes.Single().Clusters.Single().Cluster);
        Assert.Equal(UpstreamProtocol.Http2, cluster.Protocol);
        Assert.Equal(["127.0.0.2:9090", "127.0.0.3:9090"], cluster.Endpoints.Select(e => $"{e.Address}:{e.Port}"));
    }

    [Fact]
    public void Compile_ServiceEntryWithDestinationRule_SubsetsAndPolicyApply()
    {
        var snapshot = Compile(External + """

            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: external}
            spec:
              host: api.external.test
              trafficPolicy: {loadBalancer: {simple: RANDOM}}
              subsets: [{name: b, labels: {version: b}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: external}
            spec:
              hosts: [api.external.test]
              http:
              - route: [{destination: {host: api.external.test, subset: b, port: {number: 80}}}]
            """);

        var route = Outbound(snapshot, "api.external.test").Routes.Single();
        var cluster = snapshot.Clusters.Single(c => c.Name == route.Clusters.Single().Cluster);
        Assert.Equal("outbound|80|b|api.external.test", cluster.Name);
        Assert.Equal(["127.0.0.3:18080"], cluster.Endpoints.Select(e => $"{e.Address}:{e.Port}"));
        Assert.Equal(LoadBalancerKind.Random, cluster.LoadBalancer);
    }

    [Theory]
    [InlineData("DNS", "", "api.external.test:8080")]
    [InlineData("DNS_ROUND_ROBIN", "", "api.external.test:8080")]
    [InlineData("DNS", "endpoints: [{address: localhost}]", "localhost:8080")]
    [InlineData("NONE", "", "")]
    public void Compile_Resolution_Endpoints(string resolution, string endpoints, string expected)
    {
        var snapshot = Compile($$"""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: external}
            spec:
              hosts: [api.external.test]
              ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]
              resolution: {{resolution}}
              {{endpoints}}
            """);

        var cluster = snapshot.Clusters.Single(c => c.Name == "outbound|80||api.external.test");
        Assert.Equal(expected, string.Join(",", cluster.Endpoints.Select(e => $"{e.Address}:{e.Port}")));
        Assert.Equal(resolution == "NONE" ? LoadBalancerKind.Passthrough : LoadBalancerKind.RoundRobin, cluster.LoadBalancer);
    }

    [Fact]
    public void Compile_WorkloadSelectorEntry_EndpointsAreMeshInstances()
    {
        var snapshot = Compile("""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: legacy}
            spec:
              hosts: [legacy.internal.test]
              location: MESH_INTERNAL
              ports: [{number: 9080, name: http, protocol: HTTP}]
              resolution: STATIC
              workloadSelector: {labels: {app: reviews, version: v2}}
            """);

        var cluster = snapshot.Clusters.Single(c => c.Name == "outbound|9080||legacy.internal.test");
        var reviews2 = Instances().Single(i => i.Id == "reviews-2");
        Assert.Equal([$"127.0.0.1:{reviews2.Ports["inbound"]}"], cluster.Endpoints.Select(e => $"{e.Address}:{e.Port}"));
    }

    [Fact]
    public void Compile_BookinfoGoogleApisEgress_Port80RoutedTo443()
    {
        var snapshot = Compile(File.ReadAllText(TestResources.Conformance("istio-bookinfo/networking/egress-rule-google-apis.yaml")));

        var route = Outbound(snapshot, "www.googleapis.com").Routes.Single();
        var cluster = snapshot.Clusters.Single(c => c.Name == route.Clusters.Single().Cluster);
        Assert.Equal("outbound|443||www.googleapis.com", cluster.Name);
        Assert.Equal(["www.googleapis.com:443"], cluster.Endpoints.Select(e => $"{e.Address}:{e.Port}"));
        // The HTTPS port itself is TLS, not an HTTP virtual host.
        Assert.DoesNotContain(OutboundTable(snapshot).VirtualHosts, h => h.Domains.Contains("www.googleapis.com:443"));
    }

    [Fact]
    public void Compile_NoMeshConfig_UnknownHostsPassThrough()
    {
        var snapshot = Compile("");

        var catchAll = OutboundTable(snapshot).VirtualHosts[^1];
        Assert.Equal(["*"], catchAll.Domains);
        var cluster = snapshot.Clusters.Single(c => c.Name == catchAll.Routes.Single().Clusters.Single().Cluster);
        Assert.Equal(("PassthroughCluster", LoadBalancerKind.Passthrough), (cluster.Name, cluster.LoadBalancer));
        Assert.Empty(cluster.Endpoints);
    }

    [Theory]
    [InlineData("outboundTrafficPolicy: {mode: REGISTRY_ONLY}", "", "block_all")]
    [InlineData("outboundTrafficPolicy: {mode: ALLOW_ANY}", "", "allow_any")]
    [InlineData("accessLogFile: /dev/stdout", "", "allow_any")]
    [InlineData("outboundTrafficPolicy: {mode: REGISTRY_ONLY}", "ALLOW_ANY", "allow_any")]
    [InlineData("", "REGISTRY_ONLY", "block_all")]
    public void Compile_OutboundTrafficPolicy_MeshConfigThenSidecar(string mesh, string sidecarMode, string expected)
    {
        var sidecar = sidecarMode.Length == 0 ? "" : $$"""
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: default}
            spec:
              outboundTrafficPolicy: {mode: {{sidecarMode}}}
            """;
        var snapshot = Compile($$"""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio, namespace: istio-system}
            data:
              mesh: "{{mesh}}"
            {{sidecar}}
            """);

        var catchAll = OutboundTable(snapshot).VirtualHosts.Single(h => h.Domains.Contains("*"));
        Assert.Equal(expected, catchAll.Name);
        if (expected == "block_all")
        {
            Assert.Equal(new DirectResponseConfig(502), catchAll.Routes.Single().DirectResponse);
        }
    }

    [Theory]
    [InlineData("[./reviews.default.svc.cluster.local]", "reviews.default.svc.cluster.local", true)]
    [InlineData("[./reviews.default.svc.cluster.local]", "api.external.test", false)]
    [InlineData("[\"*/*\"]", "api.external.test", true)]
    [InlineData("[\"*/*.external.test\"]", "api.external.test", true)]
    [InlineData("[\"*/*.external.test\"]", "reviews.default.svc.cluster.local", false)]
    [InlineData("[\"other/*\"]", "reviews.default.svc.cluster.local", false)]
    [InlineData("[\"default/*\"]", "api.external.test", true)]
    [InlineData("[\"~/*\"]", "reviews.default.svc.cluster.local", false)]
    public void Compile_SidecarEgressHosts_LimitTheView(string hosts, string host, bool visible)
    {
        var snapshot = Compile(External + $$$"""

            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: productpage}
            spec:
              workloadSelector: {labels: {app: productpage}}
              egress: [{hosts: {{{hosts}}}}]
            """);

        Assert.Equal(visible, OutboundTable(snapshot).VirtualHosts.Any(h => h.Domains.Contains(host)));
        // Other workloads keep the whole view.
        Assert.Contains(OutboundTable(snapshot, "reviews-1").VirtualHosts, h => h.Domains.Contains(host));
    }

    [Fact]
    public void Compile_SidecarEgressPort_HostsOnlyOnThatPort()
    {
        var snapshot = Compile(External + """

            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: default, namespace: istio-system}
            spec:
              egress:
              - port: {number: 9090, protocol: GRPC, name: grpc}
                hosts: ["*/api.external.test"]
            """);

        var domains = OutboundTable(snapshot).VirtualHosts.SelectMany(h => h.Domains).ToList();
        Assert.Contains("api.external.test:9090", domains);
        Assert.DoesNotContain("api.external.test:80", domains);
        Assert.DoesNotContain(Reviews, domains);
    }

    [Fact]
    public void Compile_SidecarSelection_SelectorBeforeNamespaceBeforeRoot()
    {
        var snapshot = Compile("""
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: root, namespace: istio-system}
            spec: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: namespace}
            spec: {egress: [{hosts: ["./*"]}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: reviews}
            spec:
              workloadSelector: {labels: {app: reviews}}
              egress: [{hosts: ["istio-system/*"]}]
            """);

        Assert.Contains(OutboundTable(snapshot).VirtualHosts, h => h.Domains.Contains(Reviews));
        Assert.DoesNotContain(OutboundTable(snapshot, "reviews-1").VirtualHosts, h => h.Domains.Contains(Reviews));
        // The namespace's Sidecar applies whole: its (default) ALLOW_ANY, not the root's REGISTRY_ONLY.
        Assert.Equal("allow_any", OutboundTable(snapshot).VirtualHosts[^1].Name);
    }

    [Theory]
    [InlineData("grpc", null, UpstreamProtocol.Http2)]
    [InlineData("grpc-web", null, UpstreamProtocol.Http2)]
    [InlineData("http2-api", null, UpstreamProtocol.Http2)]
    [InlineData("http", "kubernetes.io/h2c", UpstreamProtocol.Http2)]
    [InlineData("web", "grpc", UpstreamProtocol.Http2)]
    [InlineData("http", null, UpstreamProtocol.Http1)]
    [InlineData("grpcish", null, UpstreamProtocol.Http1)]
    [InlineData(null, null, UpstreamProtocol.Http1)]
    public void Compile_ServicePortProtocol_SelectsUpstreamProtocol(string? name, string? appProtocol, UpstreamProtocol expected)
    {
        var port = "{port: 9080" + (name is null ? "" : $", name: {name}") + (appProtocol is null ? "" : $", appProtocol: \"{appProtocol}\"") + "}";
        var snapshot = Compile($$"""
            apiVersion: v1
            kind: Service
            metadata: {name: ratings}
            spec:
              selector: {app: reviews, version: v3}
              ports: [{{port}}]
            """);

        Assert.Equal(expected, snapshot.Clusters.Single(c => c.Name == "outbound|9080||ratings.default.svc.cluster.local").Protocol);
        // reviews-3 is also behind the HTTP/1.1 reviews Service: its application port stays HTTP/1.1.
        Assert.Equal(UpstreamProtocol.Http1, snapshot.Clusters.Single(c => c.Name.StartsWith("inbound|", StringComparison.Ordinal) && c.Name.EndsWith("|reviews-3", StringComparison.Ordinal)).Protocol);
    }

    [Fact]
    public void Compile_GrpcService_InstanceInboundSpeaksH2c()
    {
        var snapshot = Compile("""
            apiVersion: v1
            kind: Service
            metadata: {name: greeter}
            spec:
              selector: {app: greeter}
              ports: [{port: 50051, name: grpc}]
            """, instances: [.. Instances(), Instance("greeter-1", "greeter", "v1")]);

        var inbound = snapshot.Listeners.Single(l => l.Name == "greeter-1/inbound");
        Assert.Equal(HttpProtocols.Http2, inbound.Protocols);
        Assert.Equal(UpstreamProtocol.Http2, snapshot.Clusters.Single(c => c.Name.EndsWith("||greeter-1", StringComparison.Ordinal)).Protocol);
        Assert.Equal(HttpProtocols.Http1AndHttp2, snapshot.Listeners.Single(l => l.Name == "reviews-1/inbound").Protocols);
    }

    private static RouteTableConfig OutboundTable(ProxySnapshot snapshot, string instance = "productpage-1")
    {
        var listener = snapshot.Listeners.Single(l => l.Name == instance + "/outbound");
        return snapshot.RouteTables.Single(t => t.Name == listener.RouteTable);
    }

    private static VirtualHostConfig Outbound(ProxySnapshot snapshot, string domain) =>
        OutboundTable(snapshot).VirtualHosts.Single(h => h.Domains.Contains(domain));
}
