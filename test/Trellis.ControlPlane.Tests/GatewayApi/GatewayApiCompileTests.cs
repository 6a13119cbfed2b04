using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Trellis.Api;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;
using Trellis.ControlPlane.Compiler.GatewayApi;
using Trellis.ControlPlane.GatewayApi;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.Tests.GatewayApi;

public sealed class GatewayApiCompileTests
{
    private static readonly ProxyHello Gateway = new("gateway/g", ProxyRole.Gateway, null, new Dictionary<string, string>());
    private static readonly ProxyHello Node = new("node/n1", ProxyRole.Node, "n1", new Dictionary<string, string>());

    private const string Class = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: trellis}
        spec: {controllerName: trellis.dev/gateway-controller}
        """;

    private static string GatewayYaml(string listeners, string status = "status: {addresses: [{type: IPAddress, value: 127.0.100.7}]}") => $"""
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {"{"}name: gw, namespace: infra{"}"}
        spec:
          gatewayClassName: trellis
          listeners:
        {listeners}
        {status}
        """;

    private const string HttpListener = "  - {name: http, port: 80, protocol: HTTP}";

    private static string Service(string name, string ns = "infra") => $$"""
        apiVersion: v1
        kind: Service
        metadata: {name: {{name}}, namespace: {{ns}}}
        spec: {selector: {app: {{name}}}, ports: [{port: 8080}]}
        """;

    private static string Route(string name, string rules, string parent = "{name: gw}", string hostnames = "[]", string ns = "infra") => $"""
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {"{"}name: {name}, namespace: {ns}{"}"}
        spec:
          parentRefs: [{parent}]
          hostnames: {hostnames}
          rules:
        {rules}
        """;

    [Theory]
    [InlineData(null, new string[0], "*")]
    [InlineData("foo.example.com", new string[0], "foo.example.com")]
    [InlineData(null, new[] { "a.com", "*.b.com" }, "a.com,*.b.com")]
    [InlineData("*.example.com", new[] { "foo.example.com", "example.com", "*.foo.example.com" }, "foo.example.com,*.foo.example.com")]
    [InlineData("foo.example.com", new[] { "*.example.com", "bar.example.com" }, "foo.example.com")]
    [InlineData("*.example.com", new[] { "*.com" }, "*.example.com")]
    [InlineData("very.specific.com", new[] { "non.matching.com" }, "")]
    public void Intersect_ListenerAndRouteHostnames_FollowsTheSpec(string? listener, string[] route, string expected)
    {
        Assert.Equal(expected, string.Join(",", RouteHostnames.Intersect(listener, route)));
    }

    [Fact]
    public void Compile_HttpRoute_ServedOnTheGatewaysAddressWithSpecPrecedence()
    {
        var route = Route("r", """
              - matches: [{path: {type: PathPrefix, value: /match/}}]
                backendRefs: [{name: v3, port: 8080}]
              - matches: [{path: {type: Exact, value: /match}}]
                backendRefs: [{name: v1, port: 8080}]
              - matches: [{path: {type: PathPrefix, value: /match/prefix/one}}]
                backendRefs: [{name: v2, port: 8080}]
            """);
        var snapshot = SnapshotCompiler.Compile(Gateway, State(Class, GatewayYaml(HttpListener), Service("v1"), Service("v2"), Service("v3"), route));

        var listener = Assert.Single(snapshot.Listeners);
        Assert.Equal(("127.0.100.7", 80, ListenerKind.Gateway), (listener.Address, listener.Port, listener.Kind));
        var host = snapshot.RouteTables.Single(t => t.Name == listener.RouteTable).VirtualHosts.Single();
        Assert.Equal(["*"], host.Domains);
        // Exact first, then the longest prefix; a PathPrefix is two matches, the path itself and everything under it.
        Assert.Equal(["Exact /match:v1", "Exact /match/prefix/one:v2", "Prefix /match/prefix/one/:v2", "Exact /match:v3", "Prefix /match/:v3"],
            host.Routes.Select(r => $"{r.Matches[0].Uri!.Kind} {r.Matches[0].Uri!.Value}:{r.Clusters[0].Cluster.Split('|')[3].Split('.')[0]}"));
    }

    [Fact]
    public void Compile_GatewayWithoutAddressOrForeignClass_IsNotServed()
    {
        var unaddressed = GatewayYaml(HttpListener, status: "");
        Assert.Empty(SnapshotCompiler.Compile(Gateway, State(Class, unaddressed)).Listeners);
        var foreign = GatewayYaml(HttpListener).Replace("gatewayClassName: trellis", "gatewayClassName: other", StringComparison.Ordinal);
        Assert.Empty(SnapshotCompiler.Compile(Gateway, State(Class, foreign)).Listeners);
    }

    [Fact]
    public void Compile_RewriteAndRedirect_ReplacePrefixPerSpecTable()
    {
        var route = Route("r", """
              - matches: [{path: {type: PathPrefix, value: /prefix/one}}]
                filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
                backendRefs: [{name: v1, port: 8080}]
              - matches: [{path: {type: PathPrefix, value: /old}}]
                filters: [{type: RequestRedirect, requestRedirect: {scheme: https, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}]
            """);
        var snapshot = SnapshotCompiler.Compile(Gateway, State(Class, GatewayYaml(HttpListener), Service("v1"), route));

        var routes = snapshot.RouteTables.Single().VirtualHosts.Single().Routes.ToDictionary(r => r.Matches[0].Uri!.Value);
        Assert.Equal("/", routes["/prefix/one"].Rewrite!.UriPrefix);      // /prefix/one → /
        Assert.Equal("/", routes["/prefix/one/"].Rewrite!.UriPrefix);     // /prefix/one/two → /two
        Assert.Equal(new RedirectConfig(Uri: "/new", Scheme: "https", Port: 443, StatusCode: 302), routes["/old"].Redirect);
        Assert.Equal(new RedirectConfig(Scheme: "https", Port: 443, StatusCode: 302, PrefixRewrite: "/new/"), routes["/old/"].Redirect);
    }

    [Fact]
    public void Compile_MeshRouteOnService_ReplacesTheServicesDefaultRouteForItsPort()
    {
        var route = Route("split", """
              - backendRefs: [{name: v1, port: 8080, weight: 70}, {name: v2, port: 8080, weight: 30}]
            """, parent: "{group: \"\", kind: Service, name: echo, port: 8080}");
        var snapshot = SnapshotCompiler.Compile(Node, State([Service("echo"), Service("v1"), Service("v2"), route], Client("infra")));

        var host = snapshot.RouteTables.SelectMany(t => t.VirtualHosts).Single(h => h.Name == "echo.infra.svc.cluster.local:8080");
        Assert.Equal(["outbound|8080||v1.infra.svc.cluster.local:70", "outbound|8080||v2.infra.svc.cluster.local:30"], host.Routes.Single().Clusters.Select(c => $"{c.Cluster}:{c.Weight}"));
    }

    [Fact]
    public void Status_ParentsAndListeners_CarryTheSpecsReasons()
    {
        var accepted = Route("ok", "  - backendRefs: [{name: v1, port: 8080}]");
        var missing = Route("missing", "  - backendRefs: [{name: nope, port: 8080}]");
        var wrongSection = Route("section", "  - backendRefs: [{name: v1, port: 8080}]", parent: "{name: gw, sectionName: http1}");
        var otherNamespace = Route("other", "  - backendRefs: [{name: v1, port: 8080}]", parent: "{name: gw, namespace: infra}", ns: "web");
        var state = State(Class, GatewayYaml(HttpListener), Service("v1"), accepted, missing, wrongSection, otherNamespace);

        var status = GatewayApiStatus.Compute(state, DateTimeOffset.UnixEpoch);

        Assert.Equal("Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs", Conditions(status, "infra", "ok"));
        Assert.Equal("Accepted=True/Accepted ResolvedRefs=False/BackendNotFound", Conditions(status, "infra", "missing"));
        Assert.Equal("Accepted=False/NoMatchingParent ResolvedRefs=True/ResolvedRefs", Conditions(status, "infra", "section"));
        Assert.Equal("Accepted=False/NotAllowedByListeners ResolvedRefs=False/BackendNotFound", Conditions(status, "web", "other"));
        var gateway = status[new ResourceKey("gateway.networking.k8s.io", "Gateway", "infra", "gw")];
        Assert.Equal(2, (int?)gateway["listeners"]![0]!["attachedRoutes"]);
        Assert.Equal("127.0.100.7", (string?)gateway["addresses"]![0]!["value"]);
        Assert.Contains(gateway["conditions"]!.AsArray(), c => (string?)c!["type"] == "Programmed" && (string?)c["status"] == "True");
    }

    [Theory]
    [InlineData("127.0.100.0/24", "", "127.0.100.1")]
    [InlineData("127.0.100.0/24", "127.0.100.1,127.0.100.2", "127.0.100.3")]
    [InlineData("127.0.100.0/30", "127.0.100.1,127.0.100.2", null)]
    public void AddressPool_Next_TakesTheLowestFreeAddress(string cidr, string taken, string? expected)
    {
        var pool = GatewayAddressPool.Parse(cidr).Pool!;
        Assert.Equal(expected, pool.Next(taken.Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet()));
    }

    [Theory]
    [InlineData("10.0.0.0/24")]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.0/31")]
    public void AddressPool_Parse_RefusesWhatCannotBeServed(string cidr)
    {
        Assert.NotNull(GatewayAddressPool.Parse(cidr).Error);
    }

    private static string Conditions(Dictionary<ResourceKey, JsonObject> status, string ns, string route) =>
        string.Join(" ", status[new ResourceKey("gateway.networking.k8s.io", "HTTPRoute", ns, route)]["parents"]![0]!["conditions"]!.AsArray()
            .Select(c => $"{(string?)c!["type"]}={(string?)c["status"]}/{(string?)c["reason"]}"));

    private static WorkloadInstance Client(string ns) =>
        new("client-1", "n1", "client", ns, new Dictionary<string, string> { ["app"] = "client" }, "127.0.0.1",
            new Dictionary<string, int> { ["app"] = 31000, ["inbound"] = 31001, ["outbound"] = 31002 }, "Ready", true, 0, null, null, null);

    private static MeshState State(params string[] yaml) => State(yaml, []);

    private static MeshState State(IEnumerable<string> yaml, params WorkloadInstance[] instances)
    {
        var objects = yaml.SelectMany(TestResources.Read).Select((r, i) => new StoredResource(r, i + 1)).ToImmutableDictionary(o => o.Resource.Key);
        return new MeshState(1, new StoreSnapshot(objects.Count, objects), instances);
    }
}
