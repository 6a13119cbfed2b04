using System.Globalization;
using System.Net;
using System.Text.Json;

namespace Trellis.EndToEnd.Tests;

/// <summary>
/// <c>trellis up --prometheus</c> (issue 13): Debian's Prometheus, started by <c>up</c>, finds the proxies through the
/// generated file_sd targets and shows bookinfo's 90/10 split of reviews by <c>destination_version</c>, with Istio's
/// query; its data stays in the data directory, and it stops with <c>up</c>.
/// </summary>
public sealed class PrometheusUpTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-prom-" + Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new(ApiTokens.Wrap(new SocketsHttpHandler { UseProxy = false })) { Timeout = TimeSpan.FromSeconds(10) };

    public PrometheusUpTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        _http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task UpPrometheus_Bookinfo9010_SplitShownByPrometheus()
    {
        var gatewayPort = FreePorts.Next();
        var gateway = Path.Combine(_dir, "gateway.yaml");
        var sample = await File.ReadAllTextAsync(Path.Combine(TrellisBinary.RepoRoot, "samples", "bookinfo", "gateway.yaml"));
        await File.WriteAllTextAsync(gateway, sample.Replace("number: 8080", $"number: {gatewayPort}", StringComparison.Ordinal));
        var prometheusPort = FreePorts.Next();
        var data = Path.Combine(_dir, "data");
        // The split is in place from the start, so every request Prometheus counts is a 90/10 one.
        await using var up = TrellisProcess.Start(
            "up", "samples/bookinfo/bookinfo.yaml", gateway,
            TrellisBinary.Conformance("istio-bookinfo/networking/destination-rule-all.yaml"),
            TrellisBinary.Conformance("istio-bookinfo/networking/virtual-service-reviews-90-10.yaml"),
            "--data-dir", data, "--api-address", $"127.0.0.1:{FreePorts.Next()}", "--push-address", $"127.0.0.1:{FreePorts.Next()}",
            "--prometheus", "--prometheus-address", $"127.0.0.1:{prometheusPort}", "--prometheus-scrape-interval", "1");
        var prometheus = new Uri($"http://127.0.0.1:{prometheusPort}/");
        await Eventually.WaitAsync(() => Task.FromResult(up.Output.Contains($"Prometheus: {prometheus}", StringComparison.Ordinal)), TimeSpan.FromSeconds(120), "up prints Prometheus's URL", up);
        var targets = await File.ReadAllTextAsync(Path.Combine(data, "prometheus", "targets", "trellis.json"));
        Assert.Contains("\"proxy\": \"gateway/ingress\"", targets, StringComparison.Ordinal);
        Assert.Contains("\"__metrics_path__\": \"/stats/prometheus\"", targets, StringComparison.Ordinal);

        const int requests = 200;
        var versions = new Dictionary<string, int>();
        for (var i = 0; i < requests; i++)
        {
            var version = MeshFixture.ReviewsVersion(await ProductPageAsync(gatewayPort));
            versions[version] = versions.GetValueOrDefault(version) + 1;
        }

        Assert.True(versions.Keys.All(v => v is "v1" or "v2"), string.Join(", ", versions));

        // Every proxy is scraped: the counters of the source reporter (productpage's outbound listener) hold each call.
        Dictionary<string, double> counted = [];
        await Eventually.WaitAsync(
            async () => (counted = await QueryAsync(prometheus, "sum(istio_requests_total{destination_service_name=\"reviews\",reporter=\"source\"}) by (destination_version)"))
                .Values.Sum() >= requests,
            TimeSpan.FromSeconds(60), "Prometheus has scraped the requests", up);
        Assert.Equal(["v1", "v2"], counted.Keys.Order());
        var share = counted["v2"] / counted.Values.Sum();
        var tolerance = 4 * Math.Sqrt(0.1 * 0.9 / requests);
        Assert.True(Math.Abs(share - 0.1) <= tolerance, $"v2 share {share:F3} (±{tolerance:F3}): {string.Join(", ", counted)}");

        // Istio's query for the split. rate() needs increments between two scrapes inside the window: a series whose
        // first scrape already held every request has rate 0, so traffic keeps flowing while the query is polled.
        Dictionary<string, double> rates = [];
        await Eventually.WaitAsync(
            async () =>
            {
                for (var i = 0; i < 20; i++)
                {
                    await ProductPageAsync(gatewayPort);
                }

                rates = await QueryAsync(prometheus, "sum(rate(istio_requests_total{destination_service_name=\"reviews\"}[1m])) by (destination_version)");
                return rates.GetValueOrDefault("v1") > 0;
            },
            TimeSpan.FromSeconds(60), "the rate query answers for v1", up);
        Assert.True(rates.Keys.All(v => v is "v1" or "v2"), string.Join(", ", rates));
        rates.TryAdd("v2", 0);
        // The split itself is checked on the counters above (within 4 sigma). rate() extrapolates each series to the
        // window's edges by its own first and last samples, so over a young series the ratio of two rates strays far
        // from 9:1 (a CI run saw v2 at 21 %): here it only has to show v1 carrying most of the traffic.
        Assert.True(rates["v1"] > rates["v2"], string.Join(", ", rates));
        Assert.True(Directory.EnumerateFileSystemEntries(Path.Combine(data, "prometheus", "data")).Any());

        // Prometheus stops with up.
        Assert.True(await up.InterruptAsync(TimeSpan.FromSeconds(60), "-TERM"), up.Output);
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => _http.GetAsync(new Uri(prometheus, "-/ready")));
    }

    private async Task<string> ProductPageAsync(int port)
    {
        try
        {
            using var response = await _http.GetAsync($"http://127.0.0.1:{port}/productpage");
            return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadAsStringAsync() : $"status {(int)response.StatusCode}";
        }
        catch (HttpRequestException e)
        {
            return "error " + e.Message;
        }
    }

    /// <summary>An instant query: the value of each result by its <c>destination_version</c>.</summary>
    private async Task<Dictionary<string, double>> QueryAsync(Uri prometheus, string promql)
    {
        using var response = await _http.GetAsync(new Uri(prometheus, "api/v1/query?query=" + Uri.EscapeDataString(promql)));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("data").GetProperty("result").EnumerateArray().ToDictionary(
            r => r.GetProperty("metric").TryGetProperty("destination_version", out var v) ? v.GetString()! : "",
            r => double.Parse(r.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture));
    }
}
