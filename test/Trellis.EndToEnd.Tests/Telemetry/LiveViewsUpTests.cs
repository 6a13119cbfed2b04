using System.Text.Json;
using System.Text.Json.Nodes;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.EndToEnd.Tests.Telemetry;

/// <summary>
/// Issue 13 through <c>trellis up</c> with bookinfo: the live views (<c>stat</c>, <c>top</c>, <c>tap</c>, <c>edges</c>, all
/// <c>-o json</c>) show bookinfo's calls, computed from the proxies without Prometheus; <c>logs --proxy</c> shows a
/// workload's access log; and one request's trace through gateway → productpage → reviews → ratings arrives at an
/// OTLP receiver with each span the child of the one before.
/// </summary>
public sealed class LiveViewsUpTests(MeshFixture mesh) : IClassFixture<MeshFixture>
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Views_Bookinfo9010_ShowTheCalls()
    {
        await ApplyAsync(MeshConfig(otlpPort: null), Telemetry(tracing: false));
        await ApplyAsync(
            File.ReadAllText(TrellisBinary.Conformance("istio-bookinfo/networking/destination-rule-all.yaml")),
            File.ReadAllText(TrellisBinary.Conformance("istio-bookinfo/networking/virtual-service-reviews-90-10.yaml")));
        var versions = await mesh.SampleAsync(100);
        Assert.True(versions.Keys.All(v => v is "v1" or "v2"), string.Join(", ", versions));

        // stat deploy: every bookinfo deployment, reviews split about 90/10, all successful.
        var stat = await JsonAsync("stat", "deploy", "--window", "1m", "-o", "json");
        var rows = stat["rows"]!.AsArray().ToDictionary(r => (string)r!["name"]!, r => r!);
        Assert.Equal("deployment", (string)stat["kind"]!);
        foreach (var name in new[] { "productpage-v1", "details-v1", "reviews-v1", "reviews-v2", "ratings-v1" })
        {
            Assert.True(rows.ContainsKey(name), $"stat deploy lists {name}: {stat}");
            Assert.True((long)rows[name]["requests"]! > 0, $"{name} has requests: {stat}");
            Assert.Equal(1.0, (double)rows[name]["successRate"]!);
            Assert.True((double)rows[name]["latencyP99Ms"]! >= (double)rows[name]["latencyP50Ms"]!);
            Assert.InRange((double)rows[name]["mutualTlsShare"]!, 0, 1);
        }

        // reviews-v3 runs and is listed; it only had requests from before the rule (another test of this mesh, in the window).
        Assert.True(rows.ContainsKey("reviews-v3"), stat.ToJsonString());
        var v1 = (long)rows["reviews-v1"]["requests"]!;
        var v2 = (long)rows["reviews-v2"]["requests"]!;
        var all = v1 + v2 + (long)rows["reviews-v3"]["requests"]!;
        Assert.True(v1 > 3 * v2, $"reviews-v1 {v1} and reviews-v2 {v2} requests: about 90/10");
        Assert.True((double)rows["productpage-v1"]["requestsPerSecond"]! > 0);

        // stat svc: what the callers of reviews saw (the same calls; the window slides between the two commands).
        var service = await JsonAsync("stat", "svc", "reviews", "-o", "json");
        var reviews = Assert.Single(service["rows"]!.AsArray());
        Assert.InRange((long)reviews!["requests"]!, all * 0.8, (all * 1.2) + 5);

        // edges: who calls whom.
        var edgeRows = (await JsonAsync("edges", "deploy", "-o", "json"))["edges"]!.AsArray();
        var edges = edgeRows.Select(e => $"{(string)e!["source"]!}>{(string)e["destination"]!}").ToList();
        foreach (var edge in new[] { "ingress>productpage-v1", "productpage-v1>details-v1", "productpage-v1>reviews-v1", "productpage-v1>reviews-v2", "reviews-v2>ratings-v1" })
        {
            Assert.Contains(edge, edges);
        }

        Assert.DoesNotContain("reviews-v1>ratings-v1", edges); // reviews v1 shows no stars

        // edges po: the same calls between instances (pods), named as `get pods` names them; svc: between services.
        var pods = (await JsonAsync("edges", "po", "-o", "json"))["edges"]!.AsArray();
        Assert.Contains(pods, e => ((string)e!["source"]!).StartsWith("productpage-v1-", StringComparison.Ordinal)
            && ((string)e["destination"]!).StartsWith("reviews-v1-", StringComparison.Ordinal));
        var services = (await JsonAsync("edges", "svc", "-o", "json"))["edges"]!.AsArray().Select(e => $"{(string)e!["source"]!}>{(string)e["destination"]!}").ToList();
        Assert.Contains("productpage>reviews", services);
        Assert.Contains("reviews>ratings", services);

        // Between workloads the hops are mTLS (auto mTLS with the agent's certificates): the identities are the proven ones.
        var secured = edgeRows.Single(e => (string)e!["source"]! == "productpage-v1" && (string)e["destination"]! == "reviews-v1")!;
        Assert.StartsWith("spiffe://", (string)secured["sourcePrincipal"]!, StringComparison.Ordinal);
        Assert.StartsWith("spiffe://", (string)secured["destinationPrincipal"]!, StringComparison.Ordinal);
        Assert.True((double)rows["reviews-v1"]["mutualTlsShare"]! > 0.5, stat.ToJsonString());

        // tap: productpage's calls to reviews as they happen, metadata only.
        var tap = await WithTrafficAsync(mesh.TrellisAsync("tap", "productpage-v1", "--path", "/reviews", "--method", "GET", "--max-events", "3", "--duration", "45s", "-o", "json"));
        Assert.True(tap.Exit == 0, tap.Stderr);
        var events = tap.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(3, events.Count);
        foreach (var e in events)
        {
            Assert.Equal("outbound", (string)e["direction"]!);
            Assert.Equal("productpage-v1", (string)e["workload"]!);
            Assert.StartsWith("/reviews/", (string)e["path"]!, StringComparison.Ordinal);
            Assert.Equal("GET", (string)e["method"]!);
            Assert.Equal(200, (int)e["status"]!);
            Assert.Equal("productpage-v1", (string)e["source"]!["workload"]!);
            Assert.StartsWith("reviews-v", (string)e["destination"]!["workload"]!, StringComparison.Ordinal);
            Assert.Null(e["body"]);
        }

        // top, not interactive: the busiest paths of productpage over a few seconds.
        var top = await WithTrafficAsync(mesh.TrellisAsync("top", "productpage-v1", "--duration", "6s", "-o", "json"));
        Assert.True(top.Exit == 0, top.Stderr);
        var paths = JsonNode.Parse(top.Stdout)!.AsArray();
        Assert.Contains(paths, p => (string)p!["path"]! == "/productpage" && (string)p["source"]! == "ingress" && (long)p["count"]! > 0);
        Assert.Contains(paths, p => ((string)p!["path"]!).StartsWith("/reviews/", StringComparison.Ordinal) && (string)p["source"]! == "productpage-v1.default");
        Assert.Contains(paths, p => ((string)p!["path"]!).StartsWith("/details/", StringComparison.Ordinal));

        // logs --proxy: productpage's access log, Istio's text line.
        var logs = await mesh.TrellisAsync("logs", "--proxy", "productpage-v1");
        Assert.True(logs.Exit == 0, logs.Stderr);
        Assert.Contains("\"GET /productpage HTTP/1.1\" 200", logs.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"GET /reviews/0 HTTP/1.1\" 200", logs.Stdout, StringComparison.Ordinal);

        // Bad input: a precise error, exit 1 (refused) or 2 (usage).
        var badWindow = await mesh.TrellisAsync("stat", "deploy", "--window", "2h");
        Assert.Equal(1, badWindow.Exit);
        Assert.Contains("whole seconds from 1s to 60s", badWindow.Stderr, StringComparison.Ordinal);
        var badKind = await mesh.TrellisAsync("stat", "pods");
        Assert.Equal(1, badKind.Exit);
        Assert.Contains("expected deploy, svc or ksvc", badKind.Stderr, StringComparison.Ordinal);
        var noSuch = await mesh.TrellisAsync("tap", "nonexistent", "--duration", "1s");
        Assert.Equal(1, noSuch.Exit);
        Assert.Contains("no deployment named \"nonexistent\"", noSuch.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Trace_GatewayProductpageReviewsRatings_OneTraceWithParentLinks()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await ApplyAsync(MeshConfig(new Uri(receiver.Endpoint).Port), Telemetry(tracing: true));

        // Every request is sampled; reviews v2 and v3 call ratings (v1 does not): ask until one trace reaches ratings.
        List<ReceivedSpan> chain = [];
        await mesh.WaitForAsync(
            async () =>
            {
                await mesh.ProductPageAsync();
                chain = Chain(receiver.Spans.ToList());
                return chain.Count == 6;
            },
            Limit, "a trace from the gateway to ratings at the OTLP receiver");

        // Root first: the gateway's client span, then a server and a client span per application hop, ratings' server span last.
        Assert.Equal([3, 2, 3, 2, 3, 2], chain.Select(s => s.Kind));
        Assert.Equal("", chain[0].ParentSpanId);
        Assert.Equal(
            ["productpage.default", "productpage.default", "reviews.default", "reviews.default", "ratings.default"],
            chain.Skip(1).Select(s => s.Service));
        Assert.All(chain, s => Assert.Equal(chain[0].TraceId, s.TraceId));
        Assert.StartsWith("productpage.default.svc.cluster.local:", chain[0].Name, StringComparison.Ordinal);
        Assert.Equal("ratings.default.svc.cluster.local:9080/*", chain[^1].Name);
    }

    /// <summary>The longest chain of parent links ending at ratings' server span, root first (empty when none yet).</summary>
    private static List<ReceivedSpan> Chain(List<ReceivedSpan> spans)
    {
        var byId = spans.GroupBy(s => s.SpanId).ToDictionary(g => g.Key, g => g.First());
        foreach (var leaf in spans.Where(s => s.Kind == 2 && s.Service == "ratings.default"))
        {
            var chain = new List<ReceivedSpan> { leaf };
            while (chain[^1].ParentSpanId is { Length: > 0 } parent && byId.TryGetValue(parent, out var up) && chain.Count < 10)
            {
                chain.Add(up);
            }

            if (chain.Count == 6)
            {
                chain.Reverse();
                return chain;
            }
        }

        return [];
    }

    /// <summary>Runs bookinfo traffic until the verb has finished (it needs requests to show).</summary>
    private async Task<(int Exit, string Stdout, string Stderr)> WithTrafficAsync(Task<(int Exit, string Stdout, string Stderr)> verb)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (!verb.IsCompleted && DateTime.UtcNow < deadline)
        {
            await mesh.ProductPageAsync();
        }

        return await verb;
    }

    private async Task<JsonNode> JsonAsync(params string[] args)
    {
        var (exit, stdout, stderr) = await mesh.TrellisAsync(args);
        Assert.True(exit == 0, $"trellis {string.Join(' ', args)}: {stderr}");
        return JsonNode.Parse(stdout) ?? throw new JsonException("no JSON");
    }

    private async Task ApplyAsync(params string[] documents)
    {
        var file = Path.Combine(mesh.DataDirectory, $"live-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, string.Join("\n---\n", documents));
        var (exit, _, stderr) = await mesh.TrellisAsync("apply", "--wait", "-f", file);
        Assert.True(exit == 0, stderr);
    }

    private static string MeshConfig(int? otlpPort) => $$"""
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: istio, namespace: istio-system}
        data:
          mesh: |
            extensionProviders:
            - name: otel
              opentelemetry:
                service: 127.0.0.1
                port: {{otlpPort ?? 9}}
                http: {path: /v1/traces}
        """;

    /// <summary>Access logs (Istio's text line) everywhere, and with <paramref name="tracing"/> every request's spans to the receiver.</summary>
    private static string Telemetry(bool tracing) => """
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata: {name: mesh-default, namespace: istio-system}
        spec:
          accessLogging:
          - providers: [{name: envoy}]

        """ + (tracing ? """
          tracing:
          - providers: [{name: otel}]
            randomSamplingPercentage: 100

        """ : "");
}
