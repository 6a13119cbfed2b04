using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;

namespace Trellis.EndToEnd.Tests;

/// <summary>
/// Metering through the real binary: invocations of a function, one of them a cold start from zero,
/// show in <c>trellis usage</c> and in the control plane's <c>/metrics</c> with CPU and memory.
/// </summary>
public sealed partial class ServingTests
{
    private const int Invocations = 12;

    [Fact]
    public async Task Usage_InvocationsWithAColdStart_ShownByUsageAndMetrics()
    {
        var apply = await TrellisProcess.RunAsync(_server, "apply", "-f", "samples/functions/hello.yaml");
        Assert.True(apply.Exit == 0, apply.Stderr);

        // The revision starts at its initial scale (1) and, unused, goes to zero; then every call is ours.
        await WaitForAsync(async () => await ScaleAsync("hello-00001") is (_, >= 1), TimeSpan.FromSeconds(60), "hello-00001 running");
        await WaitForAsync(async () => await ScaleAsync("hello-00001") == (0, 0), TimeSpan.FromSeconds(60), "scale to zero");

        // Zero ready instances is not yet zero endpoints at the gateway: the push that removes the last
        // one is on its way while that instance drains. Once it has stopped, its drain delay (the time
        // the mesh gives proxies to let go of it) is over, so the first call must wait for a new one.
        await WaitForAsync(async () => await PodCountAsync("hello-00001-deployment-") == 0, TimeSpan.FromSeconds(60), "last instance stopped");

        // The first call waits in the activator while an instance starts: a cold start.
        for (var i = 0; i < Invocations; i++)
        {
            var (status, body) = await CallAsync("hello.default.example.com");
            Assert.True(status == HttpStatusCode.OK, $"call {i}: {status} {body}");
        }

        // Reports arrive every second; wait until all invocations are in.
        string[] row = [];
        await WaitForAsync(async () =>
        {
            var usage = await TrellisProcess.RunAsync(_server, "usage", "hello");
            row = usage.Stdout.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).FirstOrDefault(c => c.Length > 0 && c[0] == "hello-00001") ?? [];
            return row.Length == 9 && row[2] == Invocations.ToString(CultureInfo.InvariantCulture);
        }, TimeSpan.FromSeconds(30), $"trellis usage showing {Invocations} invocations");

        // REVISION SERVICE INVOCATIONS AVG P99 CPU-S PEAK-MEM COLD-STARTS COLD-P50
        Assert.Equal("hello", row[1]);
        Assert.True(double.Parse(row[5], CultureInfo.InvariantCulture) > 0, $"CPU-S {row[5]}");
        Assert.EndsWith("Mi", row[6], StringComparison.Ordinal);
        Assert.True(int.Parse(row[7], CultureInfo.InvariantCulture) >= 1, $"COLD STARTS {row[7]}");
        Assert.NotEqual("-", row[8]);

        var instances = await TrellisProcess.RunAsync(_server, "usage", "hello", "--instances");
        Assert.Contains("hello-00001-deployment-", instances.Stdout, StringComparison.Ordinal);

        var json = JsonNode.Parse((await TrellisProcess.RunAsync(_server, "usage", "-o", "json")).Stdout)!;
        Assert.Equal(Invocations, (long)json["revisions"]![0]!["requests"]!);

        var metrics = await GetTextAsync("/metrics") ?? "";
        const string labels = "namespace=\"default\",service=\"hello\",configuration=\"hello\",revision=\"hello-00001\"";
        Assert.Contains($"trellis_revision_requests_total{{{labels}}} {Invocations}\n", metrics, StringComparison.Ordinal);
        Assert.Contains($"trellis_revision_request_duration_seconds_count{{{labels}}} {Invocations}\n", metrics, StringComparison.Ordinal);
        Assert.True(Value(metrics, $"trellis_revision_cold_starts_total{{{labels}}}") >= 1, metrics);
        Assert.True(Value(metrics, $"trellis_revision_cpu_seconds_total{{{labels}}}") > 0, metrics);
        Assert.True(Value(metrics, $"trellis_revision_memory_peak_bytes{{{labels}}}") > 0, metrics);
    }

    private async Task<int> PodCountAsync(string prefix) =>
        (await TryGetAsync("/api/v1/namespaces/default/pods"))?["items"] is JsonArray items
            ? items.Count(p => ((string?)p?["metadata"]?["name"])?.StartsWith(prefix, StringComparison.Ordinal) == true)
            : -1;

    private static double Value(string metrics, string series) =>
        metrics.Split('\n').Where(l => l.StartsWith(series + " ", StringComparison.Ordinal))
            .Select(l => double.Parse(l[(series.Length + 1)..], CultureInfo.InvariantCulture)).DefaultIfEmpty(-1).First();

    private async Task<string?> GetTextAsync(string path)
    {
        try
        {
            using var response = await _http.GetAsync(_server + path);
            return response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync() : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }
}
