using System.Text.Json.Nodes;

namespace Trellis.EndToEnd.Tests;

/// <summary>
/// Istio's bookinfo Gateway API samples (../shared/conformance/istio-bookinfo/gateway-api/), through the real binary:
/// the Gateway serves the product page on its own address, and the reviews HTTPRoutes (GAMMA, parentRef the reviews
/// Service) give the same traffic as their VirtualService twins in <see cref="BookinfoRoutingTests"/>.
/// </summary>
public sealed class BookinfoGatewayApiTests(MeshFixture mesh) : IClassFixture<MeshFixture>
{
    private static string Sample(string file) => TrellisBinary.Conformance("istio-bookinfo/gateway-api/" + file);

    /// <summary>
    /// The per-version Services the samples route to, as Istio's setup applies them first
    /// (samples/bookinfo/platform/kube/bookinfo-versions.yaml there; not part of ../shared/conformance).
    /// </summary>
    private static string Versions() => string.Join("---\n", new[] { "v1", "v2", "v3" }.Select(v => $$"""
        apiVersion: v1
        kind: Service
        metadata: {name: reviews-{{v}}}
        spec:
          ports: [{port: 9080, name: http}]
          selector: {app: reviews, version: {{v}}}

        """));

    [Fact]
    public async Task GatewayApi_BookinfoSamples_SameTrafficAsTheVirtualServices()
    {
        var versions = Path.Combine(mesh.DataDirectory, "bookinfo-versions.yaml");
        await File.WriteAllTextAsync(versions, Versions());
        var (applied, output, errors) = await mesh.TrellisAsync("apply", "-f", versions);
        Assert.True(applied == 0, output + errors);
        await ApplyAsync("bookinfo-gateway.yaml");
        string? address = null;
        await mesh.WaitForAsync(async () =>
        {
            var (_, stdout, _) = await mesh.TrellisAsync("get", "gateways.gateway.networking.k8s.io", "bookinfo-gateway", "-o", "json");
            address = (string?)(TryParse(stdout)?["status"]?["addresses"]?[0]?["value"]);
            return address is not null;
        }, TimeSpan.FromSeconds(20), "an address for bookinfo-gateway");
        await mesh.WaitForAsync(async () => (await PageAsync(address!)).Contains("data-version", StringComparison.Ordinal), TimeSpan.FromSeconds(20), "the product page through the Gateway API gateway");

        await ApplyAsync("route-reviews-v1.yaml");
        await mesh.WaitForAsync(async () => (await mesh.SampleAsync(10)).Keys.SequenceEqual(["v1"]), TimeSpan.FromSeconds(10), "only v1");

        await ApplyAsync("route-reviews-90-10.yaml");
        await Task.Delay(TimeSpan.FromSeconds(1));
        const int n = 400;
        var split = await mesh.SampleAsync(n);
        var v2 = split.GetValueOrDefault("v2");
        var tolerance = 4 * Math.Sqrt(n * 0.1 * 0.9);
        Assert.True(Math.Abs(v2 - (n * 0.1)) <= tolerance && split.GetValueOrDefault("v1") + v2 == n, $"90/10 over {n}: {Describe(split)} (±{tolerance:F0})");

        await ApplyAsync("route-reviews-50-v3.yaml");
        await Task.Delay(TimeSpan.FromSeconds(1));
        const int half = 200;
        var fifty = await mesh.SampleAsync(half);
        var v3 = fifty.GetValueOrDefault("v3");
        var halfTolerance = 4 * Math.Sqrt(half * 0.25);
        Assert.True(Math.Abs(v3 - (half / 2)) <= halfTolerance && fifty.GetValueOrDefault("v1") + v3 == half, $"50/50 over {half}: {Describe(fifty)} (±{halfTolerance:F0})");

        await ApplyAsync("route-reviews-v3.yaml");
        await mesh.WaitForAsync(async () => (await mesh.SampleAsync(10)).Keys.SequenceEqual(["v3"]), TimeSpan.FromSeconds(10), "only v3");
        Assert.Contains("data-version=\"v3\"", await PageAsync(address!), StringComparison.Ordinal);

        // The route's status, as the spec writes it.
        var (_, json, _) = await mesh.TrellisAsync("get", "httproutes", "reviews", "-o", "json");
        var parent = TryParse(json)?["status"]?["parents"]?[0];
        Assert.Equal("Service", (string?)parent?["parentRef"]?["kind"]);
        Assert.Contains(parent?["conditions"]?.AsArray() ?? [], c => (string?)c?["type"] == "Accepted" && (string?)c?["status"] == "True");

        var (exit, _, stderr) = await mesh.TrellisAsync("delete", "-f", Sample("route-reviews-v3.yaml"));
        Assert.True(exit == 0, stderr);
        await mesh.WaitForAsync(async () => (await mesh.SampleAsync(15)).Count == 3, TimeSpan.FromSeconds(10), "round robin after delete");
    }

    private async Task<string> PageAsync(string address)
    {
        try
        {
            using var response = await mesh.Http.GetAsync($"http://{address}/productpage");
            return await response.Content.ReadAsStringAsync();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return e.Message;
        }
    }

    private async Task ApplyAsync(string file)
    {
        var (exit, stdout, stderr) = await mesh.TrellisAsync("apply", "-f", Sample(file));
        Assert.True(exit == 0, $"apply {file}: {stdout}{stderr}");
    }

    private static JsonNode? TryParse(string json)
    {
        try
        {
            return JsonNode.Parse(json);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static string Describe(Dictionary<string, int> counts) => string.Join(", ", counts.OrderBy(c => c.Key).Select(c => $"{c.Key}={c.Value}"));
}
