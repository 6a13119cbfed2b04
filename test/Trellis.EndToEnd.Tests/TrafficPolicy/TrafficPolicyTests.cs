using System.Net;
using System.Text.Json.Nodes;

namespace Trellis.EndToEnd.Tests.TrafficPolicy;

/// <summary>
/// VirtualService and DestinationRule traffic policy through the real binary (<c>trellis up</c>): each behaviour on a
/// host of its own (flaky.example, shaky.example...), so the cases do not depend on each other's order. What the
/// backends do wrong is theirs (samples/echo's FAIL_PERCENT and DELAY); what hides or contains it is the proxy's.
/// </summary>
public sealed class TrafficPolicyTests(PolicyMesh mesh) : IClassFixture<PolicyMesh>
{
    /// <summary>A VirtualService from the gateway to a Service, with the given http route body (YAML, indented 4).</summary>
    private static string Route(string host, string service, string extra = "") => $$"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: {{host.Replace('.', '-')}}
        spec:
          hosts: ["{{host}}"]
          gateways: [policy-gateway]
          http:
          - route:
            - destination: {host: {{service}}}
        {{extra}}

        """;

    [Fact]
    public async Task Retries_HideAFlakyUpstream()
    {
        // Without retries (attempts 0: Istio's default would retry a 503), 30 % of requests fail: the backend's own rate.
        await mesh.ApplyAsync("flaky.example", Route("flaky.example", "flaky", "    retries: {attempts: 0}"));
        var bare = await CountAsync("flaky.example", 100);
        Assert.InRange(bare.GetValueOrDefault(HttpStatusCode.ServiceUnavailable), 20, 40);

        await mesh.ApplyAsync("flaky.example", Route("flaky.example", "flaky", "    retries: {attempts: 3, retryOn: 5xx, perTryTimeout: 2s}"));
        await mesh.WaitForAsync(async () => (await CountAsync("flaky.example", 10)).Keys.SequenceEqual([HttpStatusCode.OK]), TimeSpan.FromSeconds(10), "retries in effect");
        var retried = await CountAsync("flaky.example", 200);
        Assert.True(retried.GetValueOrDefault(HttpStatusCode.OK) >= 198, $"with retries: {Describe(retried)} (want >= 99 % 200)");
    }

    [Fact]
    public async Task OutlierDetection_EjectsTheFailingEndpoint_AndDescribeShowsIt()
    {
        await mesh.ApplyAsync("shaky.example", Route("shaky.example", "shaky", "    retries: {attempts: 0}") + """
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: shaky
            spec:
              host: shaky
              trafficPolicy:
                outlierDetection:
                  consecutive5xxErrors: 2
                  interval: 1s
                  baseEjectionTime: 60s
                  maxEjectionPercent: 100
            """);

        // The bad endpoint fails two in a row and is ejected; from then on its healthy sibling serves everything.
        await mesh.WaitForAsync(async () => (await CountAsync("shaky.example", 20)).Keys.SequenceEqual([HttpStatusCode.OK]), TimeSpan.FromSeconds(20), "the failing endpoint ejected");
        var after = await CountAsync("shaky.example", 100);
        Assert.Equal(100, after.GetValueOrDefault(HttpStatusCode.OK));

        var (exit, stdout, stderr) = await mesh.TrellisAsync("describe", "dr", "shaky");
        Assert.True(exit == 0, stderr);
        Assert.Contains("Endpoints of shaky.default.svc.cluster.local as the proxies see them:", stdout, StringComparison.Ordinal);
        Assert.Contains("EJECTED until", stdout, StringComparison.Ordinal);
        Assert.Contains("serving", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectionPool_PendingOverflow_Answers503UO()
    {
        await mesh.ApplyAsync("slow.example", Route("slow.example", "slow", "    retries: {attempts: 0}") + """
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: slow
            spec:
              host: slow
              trafficPolicy:
                connectionPool:
                  tcp: {maxConnections: 1}
                  http: {http1MaxPendingRequests: 1}
            """);

        // One request on the one connection, one waiting for it; the rest overflow at once (each backend answer takes 300 ms).
        var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => mesh.SendAsync("slow.example", HttpMethod.Get, "/")));
        var overflowed = answers.Where(a => a.Status == HttpStatusCode.ServiceUnavailable).ToList();
        Assert.Contains(answers, a => a.Status == HttpStatusCode.OK);
        Assert.NotEmpty(overflowed);
        Assert.All(overflowed, a => Assert.Equal("UO", a.Flags));
        Assert.All(overflowed, a => Assert.True(a.Took < TimeSpan.FromMilliseconds(300) * 4, $"an overflow took {a.Took.TotalMilliseconds:F0} ms"));
    }

    [Fact]
    public async Task Mirror_ShadowGetsItsCopies_WithoutSlowingThePrimary()
    {
        await mesh.ApplyAsync("mirror.example", Route("mirror.example", "primary", """
                mirror: {host: shadow}
                mirrorPercentage: {value: 100}
            """));
        var path = "/mirrored-" + Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; i < 10; i++)
        {
            var answer = await mesh.SendAsync("mirror.example", HttpMethod.Get, path);
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            Assert.StartsWith("primary", (string?)JsonNode.Parse(answer.Body)!["pod"], StringComparison.Ordinal);
            Assert.True(answer.Took < TimeSpan.FromSeconds(1.5), $"the primary answered in {answer.Took.TotalMilliseconds:F0} ms; the shadow takes 2 s");
        }

        // Every copy arrives at the shadow, with Envoy's "-shadow" authority.
        await mesh.WaitForAsync(async () => Lines(await mesh.TrellisAsync("logs", "shadow"), path) == 10, TimeSpan.FromSeconds(20), "10 copies at the shadow");
        var logs = await mesh.TrellisAsync("logs", "shadow");
        Assert.Contains($"echo GET {path} mirror.example-shadow", logs.Stdout, StringComparison.Ordinal);
        Assert.Equal(10, Lines(await mesh.TrellisAsync("logs", "primary"), path));
    }

    [Fact]
    public async Task Cors_PreflightFromABrowserOrigin_AnsweredByTheProxy()
    {
        await mesh.ApplyAsync("cors.example", Route("cors.example", "primary", """
                corsPolicy:
                  allowOrigins: [{exact: "https://app.example"}]
                  allowMethods: [GET, POST]
                  allowHeaders: [x-custom]
                  exposeHeaders: [x-trace]
                  maxAge: 1h
            """));
        var preflight = await mesh.SendAsync("cors.example", HttpMethod.Options, "/api",
            ("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "x-custom"));
        Assert.Equal(HttpStatusCode.OK, preflight.Status);
        Assert.Equal("https://app.example", preflight.Headers["access-control-allow-origin"]);
        Assert.Contains("POST", preflight.Headers["access-control-allow-methods"], StringComparison.Ordinal);
        Assert.Contains("x-custom", preflight.Headers["access-control-allow-headers"], StringComparison.Ordinal);
        Assert.Equal("3600", preflight.Headers["access-control-max-age"]);
        Assert.Equal(string.Empty, preflight.Body); // the proxy answered; echo would have described the request

        var foreign = await mesh.SendAsync("cors.example", HttpMethod.Options, "/api", ("Origin", "https://evil.example"), ("Access-Control-Request-Method", "POST"));
        Assert.False(foreign.Headers.ContainsKey("access-control-allow-origin"), "an origin not allowed gets no CORS grant");

        var actual = await mesh.SendAsync("cors.example", HttpMethod.Get, "/api", ("Origin", "https://app.example"));
        Assert.Equal(HttpStatusCode.OK, actual.Status);
        Assert.Equal("https://app.example", actual.Headers["access-control-allow-origin"]);
        Assert.Equal("x-trace", actual.Headers["access-control-expose-headers"]);
    }

    [Fact]
    public async Task ConsistentHash_ByHeader_IsSticky()
    {
        await mesh.ApplyAsync("sticky.example", Route("sticky.example", "sticky") + """
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: sticky
            spec:
              host: sticky
              trafficPolicy:
                loadBalancer:
                  consistentHash: {httpHeaderName: x-user}
            """);
        await mesh.WaitForAsync(async () => (await PodsForAsync("user-0", 6)).Count == 1, TimeSpan.FromSeconds(10), "hashing in effect");

        var chosen = new Dictionary<string, string>();
        for (var user = 0; user < 12; user++)
        {
            var pods = await PodsForAsync($"user-{user}", 5);
            Assert.True(pods.Count == 1, $"user-{user} went to {string.Join(", ", pods)}");
            chosen[$"user-{user}"] = pods.Single();
        }

        Assert.True(chosen.Values.Distinct().Count() > 1, "12 users all hashed to one of three pods");
    }

    private async Task<HashSet<string>> PodsForAsync(string user, int requests)
    {
        var pods = new HashSet<string>();
        for (var i = 0; i < requests; i++)
        {
            var answer = await mesh.SendAsync("sticky.example", HttpMethod.Get, "/", ("x-user", user));
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            pods.Add((string?)JsonNode.Parse(answer.Body)!["pod"] ?? "");
        }

        return pods;
    }

    private async Task<Dictionary<HttpStatusCode, int>> CountAsync(string host, int requests)
    {
        var counts = new Dictionary<HttpStatusCode, int>();
        for (var i = 0; i < requests; i++)
        {
            var status = (await mesh.SendAsync(host, HttpMethod.Get, "/")).Status;
            counts[status] = counts.GetValueOrDefault(status) + 1;
        }

        return counts;
    }

    private static int Lines((int Exit, string Stdout, string Stderr) logs, string path) =>
        logs.Stdout.Split('\n').Count(l => l.Contains($"echo GET {path} ", StringComparison.Ordinal));

    private static string Describe(Dictionary<HttpStatusCode, int> counts) => string.Join(", ", counts.Select(c => $"{(int)c.Key}={c.Value}"));
}
