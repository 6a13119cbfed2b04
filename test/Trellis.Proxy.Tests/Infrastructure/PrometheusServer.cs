using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Trellis.Proxy.Tests.Infrastructure;

/// <summary>
/// A real Prometheus (Debian package prometheus; ./scripts/test installs it and disables its unit) scraping the given
/// targets every second, with its data in a temporary directory: started per test, killed and removed afterwards.
/// </summary>
internal sealed class PrometheusServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;
    private readonly HttpClient _client;

    private PrometheusServer(Process process, string directory, Uri url)
    {
        _process = process;
        _directory = directory;
        Url = url;
        _client = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(10) };
    }

    public Uri Url { get; }

    /// <param name="targets">host:port of each endpoint that serves <paramref name="path"/>.</param>
    public static async Task<PrometheusServer> StartAsync(IEnumerable<string> targets, string path)
    {
        var directory = Directory.CreateTempSubdirectory("trellis-prometheus-").FullName;
        var config = Path.Combine(directory, "prometheus.yml");
        var list = string.Join(", ", targets.Select(t => $"'{t}'"));
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: trellis-proxy
                metrics_path: {path}
                static_configs:
                  - targets: [{list}]
            """);
        var port = FreePorts.Next();
        var start = new ProcessStartInfo("prometheus",
        [
            "--config.file=" + config,
            "--storage.tsdb.path=" + Path.Combine(directory, "data"),
            "--web.listen-address=127.0.0.1:" + port,
            "--log.level=warn",
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new PrometheusServer(process, directory, new Uri($"http://127.0.0.1:{port}/"));
        await server.WaitReadyAsync();
        return server;
    }

    /// <summary>An instant query: each result's labels (as <c>k=v</c> joined with commas) and its value.</summary>
    public async Task<Dictionary<string, double>> QueryAsync(string promql)
    {
        using var response = await _client.GetAsync("api/v1/query?query=" + Uri.EscapeDataString(promql));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;
        Assert.Equal("success", root.GetProperty("status").GetString());
        var results = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var item in root.GetProperty("data").GetProperty("result").EnumerateArray())
        {
            var labels = string.Join(",", item.GetProperty("metric").EnumerateObject().Select(p => $"{p.Name}={p.Value.GetString()}"));
            results[labels] = double.Parse(item.GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        }

        return results;
    }

    /// <summary>Polls <paramref name="promql"/> until <paramref name="done"/> holds (scrapes come every second).</summary>
    public async Task<Dictionary<string, double>> QueryUntilAsync(string promql, Func<Dictionary<string, double>, bool> done, string what)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var result = await QueryAsync(promql);
            if (done(result))
            {
                return result;
            }

            if (limit.IsCancellationRequested || _process.HasExited)
            {
                Assert.Fail($"Prometheus never showed {what}; last answer to {promql}: {string.Join("; ", result.Select(r => $"{r.Key}={r.Value}"))}");
            }

            await Task.Delay(200, CancellationToken.None);
        }
    }

    private async Task WaitReadyAsync()
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            try
            {
                using var response = await _client.GetAsync("-/ready");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (limit.IsCancellationRequested || _process.HasExited)
            {
                await DisposeAsync();
                Assert.Fail("Prometheus did not become ready");
            }

            await Task.Delay(100, CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
