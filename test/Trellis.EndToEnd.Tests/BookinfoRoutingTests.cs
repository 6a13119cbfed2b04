using System.Text.Json.Nodes;

namespace Trellis.EndToEnd.Tests;

/// <summary>
/// Istio's traffic-management tasks, through the real binary: apply each bookinfo config from
/// ../shared/conformance and observe the traffic change. The steps build on each other, so they run
/// as one ordered scenario per test method against one mesh.
/// </summary>
public sealed class BookinfoRoutingTests(MeshFixture mesh) : IClassFixture<MeshFixture>
{
    private static string Networking(string file) => TrellisBinary.Conformance("istio-bookinfo/networking/" + file);

    /// <summary>
    /// <c>trellis route explain</c> through the binary: the CLI asks the control plane, which asks the gateway's and the
    /// node proxy's admin endpoints; each answers from the snapshot it serves. Holds whatever routing config the other
    /// test has applied at the time.
    /// </summary>
    [Fact]
    public async Task RouteExplain_GatewayAndWorkload_AnswerFromTheirProxies()
    {
        await mesh.WaitForAsync(async () => (await mesh.TrellisAsync("route", "explain", "--from", "gateway/ingress", "-o", "json", $"http://localhost:{mesh.GatewayPort}/productpage")).Stdout.Contains("\"outcome\": \"forward\"", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "route explain from the gateway");
        var (exit, stdout, stderr) = await mesh.TrellisAsync("route", "explain", "--from", "gateway/ingress", "-o", "json", $"http://localhost:{mesh.GatewayPort}/productpage");
        Assert.True(exit == 0, stderr);
        var gateway = JsonNode.Parse(stdout)!;
        Assert.Equal("gateway/ingress", (string?)gateway["proxy"]);
        Assert.Equal("/productpage", (string?)gateway["route"]!["matches"]![0]!["uri"]!["value"]);
        var destination = gateway["destinations"]![0]!;
        Assert.Contains("productpage", (string?)destination["clusterName"], StringComparison.Ordinal);
        Assert.NotEmpty(destination["endpoints"]!.AsArray());

        (exit, stdout, stderr) = await mesh.TrellisAsync("route", "explain", "--from", "productpage-v1", "-H", "end-user: jason", "http://reviews:9080/reviews/0");
        Assert.True(exit == 0, stderr);
        Assert.Contains("outcome:", stdout, StringComparison.Ordinal);
        Assert.Contains("/outbound (outbound)", stdout, StringComparison.Ordinal);
        Assert.Contains("destination outbound|9080|", stdout, StringComparison.Ordinal);
        Assert.Contains("retries:", stdout, StringComparison.Ordinal);

        (exit, _, stderr) = await mesh.TrellisAsync("route", "explain", "--from", "no-such-thing", "http://reviews:9080/");
        Assert.Equal(1, exit);
        Assert.Contains("no gateway proxy, pod or deployment named", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Routing_IstioTasks_TrafficFollowsEachAppliedConfig()
    {
        // No VirtualService: round robin over the three versions.
        var initial = await mesh.SampleAsync(30);
        Assert.True(initial.Keys.Order().SequenceEqual(["v1", "v2", "v3"]), Describe(initial));

        await ApplyAsync("destination-rule-all.yaml");
        await ApplyAsync("virtual-service-all-v1.yaml");
        await WaitForOnlyAsync("v1");

        // Traffic shifting: 90/10, within a tolerance of 4 standard deviations of a binomial sample.
        await ApplyAsync("virtual-service-reviews-90-10.yaml");
        await WaitForSomeAsync("v2"); // in effect: v2, which the previous config never chose, answers
        const int n = 400;
        var split = await mesh.SampleAsync(n);
        var v2 = split.GetValueOrDefault("v2");
        var tolerance = 4 * Math.Sqrt(n * 0.1 * 0.9);
        Assert.True(Math.Abs(v2 - (n * 0.1)) <= tolerance && split.GetValueOrDefault("v1") + v2 == n, $"90/10 over {n}: {Describe(split)} (±{tolerance:F0})");

        // 50/50 between v1 and v3.
        await ApplyAsync("virtual-service-reviews-50-v3.yaml");
        await WaitForSomeAsync("v3");
        const int half = 200;
        var fifty = await mesh.SampleAsync(half);
        var v3 = fifty.GetValueOrDefault("v3");
        var halfTolerance = 4 * Math.Sqrt(half * 0.25);
        Assert.True(Math.Abs(v3 - (half / 2)) <= halfTolerance && fifty.GetValueOrDefault("v1") + v3 == half, $"50/50 over {half}: {Describe(fifty)} (±{halfTolerance:F0})");

        // Header routing: end-user jason (the productpage login cookie) goes to v2, everyone else to v3.
        await ApplyAsync("virtual-service-reviews-jason-v2-v3.yaml");
        await WaitForOnlyAsync("v3");
        Assert.Equal(new Dictionary<string, int> { ["v2"] = 20 }, await mesh.SampleAsync(20, user: "jason"));
        Assert.Equal(new Dictionary<string, int> { ["v3"] = 20 }, await mesh.SampleAsync(20, user: "someone"));
        var jasonPage = await mesh.ProductPageAsync("jason");
        Assert.Contains("color=\"black\"", jasonPage, StringComparison.Ordinal);
        Assert.Contains("color=\"red\"", await mesh.ProductPageAsync(), StringComparison.Ordinal);

        await ApplyAsync("virtual-service-reviews-v3.yaml");
        await WaitForOnlyAsync("v3", user: "jason");

        // Istio's fault-injection task: jason to reviews v2, then ratings aborted (500) and delayed (7 s) for jason only.
        await ApplyAsync("virtual-service-reviews-test-v2.yaml");
        await WaitForOnlyAsync("v2", user: "jason");
        await ApplyAsync("virtual-service-ratings-test-abort.yaml");
        await mesh.WaitForAsync(async () => (await mesh.ProductPageAsync("jason")).Contains("Ratings service is currently unavailable", StringComparison.Ordinal),
            TimeSpan.FromSeconds(5), "jason's page with the ratings aborted");
        Assert.DoesNotContain("Ratings service is currently unavailable", await mesh.ProductPageAsync(), StringComparison.Ordinal);

        // The delay: reviews v2 waits up to 10 s for ratings, productpage 3 s for reviews, twice: jason's page shows
        // the reviews unavailable after about 6 s, as Istio's documentation says; everyone else is served at once.
        await ApplyAsync("virtual-service-ratings-test-delay.yaml");
        var started = DateTime.UtcNow;
        var delayed = await mesh.ProductPageAsync("jason");
        var took = DateTime.UtcNow - started;
        if (!delayed.Contains("Sorry, product reviews are currently unavailable for this book.", StringComparison.Ordinal))
        {
            // The first page may have raced the new config; the next one must not.
            started = DateTime.UtcNow;
            delayed = await mesh.ProductPageAsync("jason");
            took = DateTime.UtcNow - started;
        }

        Assert.Contains("Sorry, product reviews are currently unavailable for this book.", delayed, StringComparison.Ordinal);
        Assert.True(took >= TimeSpan.FromSeconds(5.5), $"jason's page took {took.TotalSeconds:F1} s, not the two 3 s tries");
        Assert.Equal("v1", MeshFixture.ReviewsVersion(await mesh.ProductPageAsync()));

        // Deleting the routing configuration reverts to round robin.
        var (exit, _, stderr) = await mesh.TrellisAsync("delete", "-f", Networking("virtual-service-all-v1.yaml"));
        Assert.True(exit == 0, stderr);
        await mesh.WaitForAsync(async () => (await mesh.SampleAsync(15)).Count == 3, TimeSpan.FromSeconds(10), "round robin after delete");
    }

    [Fact]
    public async Task Cli_GetDescribeLogsAnalyze_ShowTrueState()
    {
        await ApplyAsync("destination-rule-all.yaml");

        var pods = await mesh.TrellisAsync("get", "pods");
        Assert.Equal(0, pods.Exit);
        var lines = pods.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("NAME", lines[0], StringComparison.Ordinal);
        Assert.Equal(6, lines.Skip(1).Count(l => l.Contains("Ready", StringComparison.Ordinal) && l.Contains("1/1", StringComparison.Ordinal)));

        var endpoints = await mesh.TrellisAsync("get", "endpoints");
        var reviews = endpoints.Stdout.Split('\n').Single(l => l.StartsWith("reviews", StringComparison.Ordinal));
        Assert.Equal(3, reviews.Split(',').Length);

        var rules = await mesh.TrellisAsync("get", "dr", "reviews", "-o", "yaml");
        Assert.Equal(0, rules.Exit);
        Assert.Contains("host: reviews", rules.Stdout, StringComparison.Ordinal);
        Assert.Contains("name: v3", rules.Stdout, StringComparison.Ordinal);

        var deployments = await mesh.TrellisAsync("get", "deploy");
        Assert.Contains(deployments.Stdout.Split('\n'), l => l.StartsWith("reviews-v2", StringComparison.Ordinal) && l.Contains("1/1", StringComparison.Ordinal));

        var describe = await mesh.TrellisAsync("describe", "svc", "reviews");
        Assert.Equal(0, describe.Exit);
        Assert.Contains("Endpoints:", describe.Stdout, StringComparison.Ordinal);

        var logs = await mesh.TrellisAsync("logs", "productpage-v1");
        Assert.Equal(0, logs.Exit);
        Assert.False(string.IsNullOrWhiteSpace(logs.Stdout), "productpage-v1 has logged nothing");

        var missing = await mesh.TrellisAsync("get", "vs", "nope");
        Assert.Equal(1, missing.Exit);

        var dangling = Path.Combine(mesh.DataDirectory, "dangling.yaml");
        await File.WriteAllTextAsync(dangling, "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ratings}\nspec:\n  hosts: [ratings]\n  http:\n  - route:\n    - destination: {host: ratings, subset: v9}\n");
        var analyze = await mesh.TrellisAsync("analyze", "-f", dangling);
        Assert.Equal(1, analyze.Exit);
        Assert.Contains("IST0101", analyze.Stdout, StringComparison.Ordinal);
        var apply = await mesh.TrellisAsync("apply", "-f", dangling);
        Assert.Equal(1, apply.Exit);
        Assert.Contains("IST0101", apply.Stderr, StringComparison.Ordinal);
        var after = await mesh.TrellisAsync("get", "vs", "-o", "json");
        Assert.DoesNotContain("\"ratings\"", after.Stdout, StringComparison.Ordinal);

        var proxies = await mesh.TrellisAsync("get", "proxies");
        Assert.Contains(proxies.Stdout.Split('\n'), l => l.StartsWith("node/local", StringComparison.Ordinal) && l.Contains("SYNCED", StringComparison.Ordinal));
    }

    private async Task ApplyAsync(string file)
    {
        var (exit, stdout, stderr) = await mesh.TrellisAsync("apply", "-f", Networking(file));
        Assert.True(exit == 0, $"apply {file}: {stdout}{stderr}");
    }

    /// <summary>Config must take effect within a second: poll until 10 pages in a row show only <paramref name="version"/>.</summary>
    private async Task WaitForOnlyAsync(string version, string? user = null)
    {
        var started = DateTime.UtcNow;
        await mesh.WaitForAsync(async () => (await mesh.SampleAsync(10, user)).Keys.SequenceEqual([version]), TimeSpan.FromSeconds(5), $"only {version}");
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(3), $"routing to {version} took {(DateTime.UtcNow - started).TotalMilliseconds:F0} ms");
    }

    /// <summary>Config must take effect within a second: poll until a page shows <paramref name="version"/>, which the previous config never chose.</summary>
    private async Task WaitForSomeAsync(string version)
    {
        var started = DateTime.UtcNow;
        await mesh.WaitForAsync(async () => (await mesh.SampleAsync(10)).ContainsKey(version), TimeSpan.FromSeconds(5), $"a {version} page");
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(3), $"routing to {version} took {(DateTime.UtcNow - started).TotalMilliseconds:F0} ms");
    }

    private static string Describe(Dictionary<string, int> counts) => string.Join(", ", counts.OrderBy(c => c.Key).Select(c => $"{c.Key}={c.Value}"));
}
