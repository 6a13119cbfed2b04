using System.Collections.Immutable;
using Trellis.Api;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.Tests.Compiler;

public sealed class SnapshotCompilerTests
{
    private static readonly ProxyHello Node = new("node/n1", ProxyRole.Node, "n1", new Dictionary<string, string>());
    private static readonly ProxyHello Gateway = new("gateway/g", ProxyRole.Gateway, null, new Dictionary<string, string> { ["istio"] = "ingressgateway" });
    private const string Reviews = "reviews.default.svc.cluster.local";

    [Fact]
    public void Compile_NoVirtualService_RoutesServiceToAllReadyInstances()
    {
        var snapshot = SnapshotCompiler.Compile(Node, State([R(TestResources.ReviewsService)], Instance("productpage-1", "productpage", "v1"), Instance("reviews-1", "reviews", "v1"), Instance("reviews-2", "reviews", "v2", ready: false)));

        var route = OutboundHost(snapshot, Reviews).Routes.Single();
        var cluster = Assert.Single(route.Clusters);
        Assert.Equal($"outbound|9080||{Reviews}", cluster.Cluster);
        var endpoints = snapshot.Clusters.Single(c => c.Name == cluster.Cluster).Endpoints;
        Assert.Equal([InboundPort("reviews-1")], endpoints.Select(e => e.Port));
    }

    [Theory]
    [InlineData("virtual-service-reviews-90-10.yaml", "v1:90,v2:10")]
    [InlineData("virtual-service-reviews-50-v3.yaml", "v1:50,v3:50")]
    [InlineData("virtual-service-reviews-v3.yaml", "v3:100")]
    [InlineData("virtual-service-reviews-80-20.yaml", "v1:80,v2:20")]
    public void Compile_BookinfoShifting_WeightsBySubset(string file, string expected)
    {
        var vs = TestResources.Read(File.ReadAllText(TestResources.Conformance("istio-bookinfo/networking/" + file)));
        var snapshot = SnapshotCompiler.Compile(Node, State([R(TestResources.ReviewsService), R(TestResources.ReviewsRule), .. vs], Bookinfo()));

        var route = OutboundHost(snapshot, Reviews).Routes.Single();
        Assert.Equal(expected, string.Join(",", route.Clusters.Select(c => $"{c.Cluster.Split('|')[2]}:{c.Weight}")));
        foreach (var c in route.Clusters)
        {
            var subset = c.Cluster.Split('|')[2];
            Assert.All(snapshot.Clusters.Single(x => x.Name == c.Cluster).Endpoints, e => Assert.Equal(subset, e.Labels!["version"]));
        }
    }

    [Fact]
    public void Compile_JasonHeaderRoute_MatchesEndUserExactly()
    {
        var vs = TestResources.Read(File.ReadAllText(TestResources.Conformance("istio-bookinfo/networking/virtual-service-reviews-jason-v2-v3.yaml")));
        var snapshot = SnapshotCompiler.Compile(Node, State([R(TestResources.ReviewsService), R(TestResources.ReviewsRule), .. vs], Bookinfo()));

        var routes = OutboundHost(snapshot, Reviews).Routes;
        Assert.Equal(2, routes.Count);
        var header = routes[0].Matches.Single().Headers!["end-user"];
        Assert.Equal(new StringMatchConfig(StringMatchKind.Exact, "jason"), header);
        Assert.Contains("|v2|", routes[0].Clusters.Single().Cluster, StringComparison.Ordinal);
        Assert.Empty(routes[1].Matches);
        Assert.Contains("|v3|", routes[1].Clusters.Single().Cluster, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_SourceLabelsMatch_AppliesOnlyToMatchingInstances()
    {
        var vs = TestResources.One("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews}
            spec:
              hosts: [reviews]
              http:
              - match: [{sourceLabels: {app: productpage}}]
                route: [{destination: {host: reviews, subset: v2}}]
              - route: [{destination: {host: reviews, subset: v1}}]
            """);
        var snapshot = SnapshotCompiler.Compile(Node, State([R(TestResources.ReviewsService), R(TestResources.ReviewsRule), vs], Bookinfo()));

        var fromProductpage = OutboundHost(snapshot, Reviews, "productpage-1").Routes;
        var fromReviews = OutboundHost(snapshot, Reviews, "reviews-1").Routes;
        // For productpage the first rule matches every request, so (as in Istio) nothing after it is kept.
        Assert.Contains("|v2|", Assert.Single(fromProductpage).Clusters.Single().Cluster, StringComparison.Ordinal);
        Assert.Single(fromReviews);
        Assert.Contains("|v1|", fromReviews[0].Clusters.Single().Cluster, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_Gateway_ListensOnServerPortWithBoundVirtualService()
    {
        var gateway = TestResources.Read(File.ReadAllText(TestResources.Conformance("istio-bookinfo/networking/bookinfo-gateway.yaml")));
        var service = TestResources.ReviewsService.Replace("reviews", "productpage", StringComparison.Ordinal);
        var snapshot = SnapshotCompiler.Compile(Gateway, State([R(service), .. gateway], Instance("productpage-1", "productpage", "v1")));

        var listener = Assert.Single(snapshot.Listeners);
        Assert.Equal(8080, listener.Port);
        Assert.Equal(ListenerKind.Gateway, listener.Kind);
        var host = snapshot.RouteTables.Single(t => t.Name == listener.RouteTable).VirtualHosts.Single();
        Assert.Equal(["*"], host.Domains);
        var route = host.Routes.Single();
        Assert.Equal(5, route.Matches.Count);
        Assert.Equal(new StringMatchConfig(StringMatchKind.Exact, "/productpage"), route.Matches[0].Uri);
        Assert.Equal("outbound|9080||productpage.default.svc.cluster.local", route.Clusters.Single().Cluster);
    }

    [Fact]
    public void Compile_GatewayWithOtherSelector_HasNoListeners()
    {
        var gateway = TestResources.Read(File.ReadAllText(TestResources.Conformance("istio-bookinfo/networking/bookinfo-gateway.yaml")));
        var other = Gateway with { Labels = new Dictionary<string, string> { ["istio"] = "egressgateway" } };
        Assert.Empty(SnapshotCompiler.Compile(other, State([.. gateway])).Listeners);
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void Compile_GatewayTlsServer_UsesSecretOrIsNotServed(bool secretExists, bool listens)
    {
        var gateway = R("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: secure}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 8443, name: https, protocol: HTTPS}
                hosts: ["*"]
                tls: {mode: SIMPLE, credentialName: books-cert}
            """);
        var secret = R("""
            apiVersion: v1
            kind: Secret
            metadata: {name: books-cert}
            type: kubernetes.io/tls
            stringData: {tls.crt: CERT, tls.key: KEY}
            """);
        var snapshot = SnapshotCompiler.Compile(Gateway, State(secretExists ? [gateway, secret] : [gateway]));

        Assert.Equal(listens, snapshot.Listeners.Count == 1);
        if (listens)
        {
            Assert.Equal(new ListenerTlsConfig("CERT", "KEY"), snapshot.Listeners[0].Tls);
        }
    }

    /// <summary>Istio Gateway MUTUAL: the client CA from the credential's <c>ca.crt</c>, its generic <c>cacert</c>, or the <c>-cacert</c> Secret.</summary>
    [Theory]
    [InlineData("stringData: {tls.crt: CERT, tls.key: KEY, ca.crt: CA}", null, "CA")]
    [InlineData("stringData: {cert: CERT, key: KEY, cacert: CA}", null, "CA")]
    [InlineData("stringData: {tls.crt: CERT, tls.key: KEY}", "stringData: {ca.crt: CA2}", "CA2")]
    [InlineData("stringData: {tls.crt: CERT, tls.key: KEY}", null, null)]
    public void Compile_GatewayMutualServer_ClientCaFromTheCredentialOrNotServed(string credential, string? caSecret, string? expectedCa)
    {
        var gateway = R("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: secure}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 8443, name: https, protocol: HTTPS}
                hosts: ["*"]
                tls: {mode: MUTUAL, credentialName: books-cert, subjectAltNames: [client.example.com]}
            """);
        List<Resource> resources = [gateway, R($"apiVersion: v1\nkind: Secret\nmetadata: {{name: books-cert}}\n{credential}\n")];
        if (caSecret is not null)
        {
            resources.Add(R($"apiVersion: v1\nkind: Secret\nmetadata: {{name: books-cert-cacert}}\n{caSecret}\n"));
        }

        var snapshot = SnapshotCompiler.Compile(Gateway, State(resources));

        if (expectedCa is null)
        {
            Assert.Empty(snapshot.Listeners); // a MUTUAL server without a CA is not served at all, never without client certificates
            return;
        }

        Assert.Equal(new ListenerTlsConfig("CERT", "KEY", expectedCa, ["client.example.com"]), snapshot.Listeners.Single().Tls);
    }

    [Fact]
    public void Compile_GatewayServersWithTheirOwnCredentials_OnePort_ChosenBySni()
    {
        var gateway = R("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: secure}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 8443, name: https-a, protocol: HTTPS}
                hosts: ["default/a.example.com"]
                tls: {mode: SIMPLE, credentialName: a-cert}
              - port: {number: 8443, name: https-b, protocol: HTTPS}
                hosts: ["*.b.example.com"]
                tls: {mode: SIMPLE, credentialName: b-cert}
            """);
        var a = R("apiVersion: v1\nkind: Secret\nmetadata: {name: a-cert}\nstringData: {tls.crt: A, tls.key: KA}\n");
        var b = R("apiVersion: v1\nkind: Secret\nmetadata: {name: b-cert}\nstringData: {tls.crt: B, tls.key: KB}\n");

        var tls = SnapshotCompiler.Compile(Gateway, State([gateway, a, b])).Listeners.Single().Tls!;

        Assert.Equal(("A", "KA"), (tls.CertificatePem, tls.PrivateKeyPem)); // the first server is the port's default
        Assert.Equal(
            [new ServerNameTlsConfig(["a.example.com"], new ListenerTlsConfig("A", "KA")), new ServerNameTlsConfig(["*.b.example.com"], new ListenerTlsConfig("B", "KB"))],
            tls.ServerNames!);
    }

    [Fact]
    public void Compile_HttpsRedirectServer_RedirectsEverything()
    {
        var gateway = R("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: web}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 8080, name: http, protocol: HTTP}
                hosts: ["*"]
                tls: {httpsRedirect: true}
            """);
        var snapshot = SnapshotCompiler.Compile(Gateway, State([gateway]));

        var route = snapshot.RouteTables.Single().VirtualHosts.Single().Routes.Single();
        Assert.Equal("https", route.Redirect!.Scheme);
        Assert.Null(snapshot.Listeners.Single().Tls);
    }

    [Fact]
    public void Compile_SameInputs_SameVersion_AndChangeAltersVersion()
    {
        var a = SnapshotCompiler.Compile(Node, State([R(TestResources.ReviewsService)], Bookinfo()));
        var b = SnapshotCompiler.Compile(Node, State([R(TestResources.ReviewsService)], Bookinfo()));
        var c = SnapshotCompiler.Compile(Node, State([R(TestResources.ReviewsService)], Bookinfo()[..^1]));

        Assert.Equal(a.Version, b.Version);
        Assert.NotEqual(a.Version, c.Version);
    }

    [Fact]
    public void Compile_InstancesShareOneOutboundTable_WhenTheirViewIsTheSame()
    {
        var snapshot = SnapshotCompiler.Compile(Node, State([R(TestResources.ReviewsService)], Bookinfo()));
        var outbound = snapshot.Listeners.Where(l => l.Kind == ListenerKind.Outbound).Select(l => l.RouteTable).Distinct();
        Assert.Single(outbound);
        Assert.Equal(Bookinfo().Length * 2, snapshot.Listeners.Count);
    }

    [Fact]
    public void Compile_UnknownSubset_GivesEmptyCluster()
    {
        var vs = TestResources.One(TestResources.VirtualService("reviews", "reviews", "v9"));
        var snapshot = SnapshotCompiler.Compile(Node, State([R(TestResources.ReviewsService), R(TestResources.ReviewsRule), vs], Bookinfo()));

        var cluster = OutboundHost(snapshot, Reviews).Routes.Single().Clusters.Single().Cluster;
        Assert.Empty(snapshot.Clusters.Single(c => c.Name == cluster).Endpoints);
    }

    [Theory]
    [InlineData(true, 5)]
    [InlineData(false, 0)]
    public void Compile_RevisionActivatorInPath_ClusterCapsEachInstanceAtContainerConcurrency(bool inPath, int expected)
    {
        var revision = R("""
            apiVersion: serving.knative.dev/v1
            kind: Revision
            metadata: {name: hello-00001}
            spec:
              containerConcurrency: 5
              timeoutSeconds: 30
              containers:
              - command: [hello]
            """) with { Status = new System.Text.Json.Nodes.JsonObject { ["activatorInPath"] = inPath } };
        var route = R("""
            apiVersion: serving.knative.dev/v1
            kind: Route
            metadata: {name: hello}
            spec:
              traffic: [{revisionName: hello-00001, percent: 100}]
            """) with { Status = System.Text.Json.Nodes.JsonNode.Parse("""{"url": "http://hello.default.example.com", "traffic": [{"revisionName": "hello-00001", "percent": 100}]}""")!.AsObject() };

        var snapshot = SnapshotCompiler.Compile(Node, State([revision, route], Instance("productpage-1", "productpage", "v1")));

        var cluster = snapshot.Clusters.Single(c => c.Name == "outbound|80|hello-00001|hello.default.svc.cluster.local");
        Assert.Equal(new ActivationConfig(1000, TimeSpan.FromSeconds(30), expected), cluster.Activation);
    }

    private static VirtualHostConfig OutboundHost(ProxySnapshot snapshot, string fqdn, string instance = "productpage-1")
    {
        var listener = snapshot.Listeners.Single(l => l.Name == instance + "/outbound");
        return snapshot.RouteTables.Single(t => t.Name == listener.RouteTable).VirtualHosts.Single(h => h.Domains.Contains(fqdn));
    }

    private static WorkloadInstance[] Bookinfo() =>
    [
        Instance("productpage-1", "productpage", "v1"),
        Instance("reviews-1", "reviews", "v1"),
        Instance("reviews-2", "reviews", "v2"),
        Instance("reviews-3", "reviews", "v3"),
    ];

    private static int InboundPort(string id) => 20000 + (Math.Abs(id.GetHashCode(StringComparison.Ordinal)) % 10000);

    private static WorkloadInstance Instance(string id, string app, string version, bool ready = true)
    {
        var inbound = InboundPort(id);
        return new WorkloadInstance(id, "n1", $"{app}-{version}", "default",
            new Dictionary<string, string> { ["app"] = app, ["version"] = version }, "127.0.0.1",
            new Dictionary<string, int> { ["app"] = inbound + 10000, ["inbound"] = inbound, ["outbound"] = inbound + 20000 },
            "Ready", ready, 0, null, null, null);
    }

    private static Resource R(string yaml) => TestResources.One(yaml);

    private static MeshState State(IEnumerable<Resource> resources, params WorkloadInstance[] instances)
    {
        var objects = resources.Select((r, i) => new StoredResource(r, i + 1)).ToImmutableDictionary(o => o.Resource.Key);
        return new MeshState(1, new StoreSnapshot(objects.Count, objects), instances);
    }
}
