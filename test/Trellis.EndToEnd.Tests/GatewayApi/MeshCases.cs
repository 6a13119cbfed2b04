using static Trellis.EndToEnd.Tests.GatewayApi.ConformanceCase;

namespace Trellis.EndToEnd.Tests.GatewayApi;

/// <summary>
/// The MESH-HTTP (GAMMA) profile's cases, transcribed from kubernetes-sigs/gateway-api conformance/tests/mesh/*.go:
/// requests leave the echo-v1 workload through its outbound listener, addressed to the Service <c>echo</c>.
/// </summary>
public static class MeshCases
{
    private const string Ns = ConformanceMesh.MeshNamespace;

    private static Expectation To(string path, string backend, string host = "echo") => new(new ConformanceRequest(path, host), backend, Ns);

    private static Task RouteAsync(ConformanceRun run, string route, string service = "echo") =>
        run.ParentConditionAsync(Ns, route, Ns, service, "Accepted", "True", "Accepted");

    public static IReadOnlyList<ConformanceCase> All { get; } =
    [
        new("MeshBasic", Mesh, Core, [], run => run.ExpectMeshAsync(new Expectation(new ConformanceRequest("/", "echo"), Namespace: Ns))),
        new("MeshHTTPRouteSimpleSameNamespace", Mesh, Core, ["mesh/httproute-simple-same-namespace.yaml"], async run =>
        {
            await RouteAsync(run, "gateway-conformance-mesh-test");
            await run.ExpectMeshAsync(To("/", "echo-v1"));
        }),
        new("MeshHTTPRouteMatching", Mesh, Core, ["mesh/httproute-matching.yaml"], async run =>
        {
            await RouteAsync(run, "mesh-matching");
            await run.ExpectMeshAsync(To("/", "echo-v1"), To("/example", "echo-v1"), To("/v2", "echo-v2"), To("/v2/example", "echo-v2"),
                new Expectation(new ConformanceRequest("/", "echo", Headers: new Dictionary<string, string> { ["Version"] = "two" }), "echo-v2", Ns));
        }),
        new("MeshSplit", Mesh, Core, ["mesh/mesh-split.yaml"], async run =>
        {
            await RouteAsync(run, "mesh-split");
            await run.ExpectMeshAsync(To("/v1", "echo-v1"), To("/v2", "echo-v2"));
        }),
        new("MeshHTTPRouteWeight", Mesh, Extended, ["mesh/httproute-weight.yaml"], async run =>
        {
            await RouteAsync(run, "mesh-weighted-backends");
            await run.ExpectMeshAsync(new Expectation(new ConformanceRequest("/", "echo"), Namespace: Ns));
            var counts = await run.SampleAsync("127.0.0.1", await run.MeshClientPortAsync(), new ConformanceRequest("/", "echo"), 500);
            Assert.True(Math.Abs(counts.GetValueOrDefault("echo-v1") - 350) <= 25 && Math.Abs(counts.GetValueOrDefault("echo-v2") - 150) <= 25,
                string.Join(", ", counts.Select(c => $"{c.Key}={c.Value}")));
        }),
        new("MeshHTTPRouteRequestHeaderModifier", Mesh, Core, ["mesh/httproute-request-header-modifier.yaml"], async run =>
        {
            await RouteAsync(run, "mesh-request-header-modifier");
            await run.ExpectMeshAsync(
                new(new ConformanceRequest("/set", "echo", Headers: new Dictionary<string, string> { ["X-Header-Set"] = "other" }), "echo-v1", Ns,
                    Upstream: new(Headers: new Dictionary<string, string> { ["X-Header-Set"] = "set-overwrites-values" })),
                new(new ConformanceRequest("/add", "echo", Headers: new Dictionary<string, string> { ["X-Header-Add"] = "other" }), "echo-v1", Ns,
                    Upstream: new(Headers: new Dictionary<string, string> { ["X-Header-Add"] = "other,add-appends-values" })),
                new(new ConformanceRequest("/remove", "echo", Headers: new Dictionary<string, string> { ["X-Header-Remove"] = "val" }), "echo-v1", Ns,
                    Upstream: new(AbsentHeaders: ["X-Header-Remove"])));
        }),
        new("MeshHTTPRouteRedirectHostAndStatus", Mesh, Extended, ["mesh/httproute-redirect-host-and-status.yaml"], async run =>
        {
            await RouteAsync(run, "mesh-redirect-host-and-status");
            await run.ExpectMeshAsync(
                new(new ConformanceRequest("/hostname-redirect", "echo"), Status: 302, Redirect: new(Host: "example.org", Port: "")),
                new(new ConformanceRequest("/host-and-status", "echo"), Status: 301, Redirect: new(Host: "example.org", Port: "")));
        }),
        new("MeshHTTPRouteRewritePath", Mesh, Extended, ["mesh/httproute-rewrite-path.yaml"], async run =>
        {
            await RouteAsync(run, "mesh-rewrite-path");
            await run.ExpectMeshAsync(
                new(new ConformanceRequest("/prefix/one/two", "echo"), "echo-v1", Ns, Upstream: new(Path: "/one/two")),
                new(new ConformanceRequest("/strip-prefix/three", "echo"), "echo-v1", Ns, Upstream: new(Path: "/three")),
                new(new ConformanceRequest("/strip-prefix", "echo"), "echo-v1", Ns, Upstream: new(Path: "/")));
        }),
        new("MeshPorts", Mesh, Extended, ["mesh/mesh-ports.yaml"], async run =>
        {
            await RouteAsync(run, "mesh-split-v1", "echo-v1");
            await run.ExpectMeshAsync(
                new(new ConformanceRequest("/", "echo-v1"), "echo-v1", Ns, ResponseHeaders: new Dictionary<string, string> { ["X-Header-Set"] = "v1" }),
                new(new ConformanceRequest("/", "echo-v1:8080"), "echo-v1", Ns, AbsentResponseHeaders: ["X-Header-Set"]),
                new(new ConformanceRequest("/", "echo-v2"), "echo-v2", Ns, ResponseHeaders: new Dictionary<string, string> { ["X-Header-Set"] = "v2" }),
                new(new ConformanceRequest("/", "echo-v2:8080"), "echo-v2", Ns, ResponseHeaders: new Dictionary<string, string> { ["X-Header-Set"] = "v2" }));
        }),
    ];
}
