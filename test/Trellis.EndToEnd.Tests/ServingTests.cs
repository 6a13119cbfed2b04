using System.Net;
using System.Text.Json.Nodes;

namespace Trellis.EndToEnd.Tests;

/// <summary>
/// Knative serving through the real binary: a function that answers at zero instances, scales back to
/// zero after a short window (config-autoscaler), rolls out a new revision under a traffic split, and
/// a function that crashes at start gets a clear status.
/// </summary>
public sealed partial class ServingTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-serving-" + Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new(ApiTokens.Wrap(new SocketsHttpHandler { UseProxy = false })) { Timeout = TimeSpan.FromSeconds(30) };
    private TrellisProcess _up = null!;
    private string _server = "";
    private int _gateway;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _gateway = FreePorts.Next();
        var api = FreePorts.Next();
        _server = $"http://127.0.0.1:{api}";
        await File.WriteAllTextAsync(Path.Combine(_dir, "autoscaler.yaml"), """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: config-autoscaler, namespace: knative-serving}
            data: {stable-window: "6s", scale-to-zero-grace-period: "1s"}
            """);
        _up = await FunctionsUp.StartAsync(_dir, _gateway, api, Path.Combine(_dir, "autoscaler.yaml"));
    }

    public async Task DisposeAsync()
    {
        await _up.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Serving_ScaleFromZeroToZeroAndRollout_NoRequestFails()
    {
        var apply = await TrellisProcess.RunAsync(_server, "apply", "-f", "samples/functions/hello.yaml");
        Assert.True(apply.Exit == 0, apply.Stderr);

        // Like `kn service create`, wait for Ready: the route exists once a revision has been ready.
        await WaitForAsync(async () => (await TryGetAsync("/apis/serving.knative.dev/v1/namespaces/default/services/hello"))?["status"]?["url"] is not null
            && (await CallAsync("hello.default.example.com")).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(60), "hello ready");
        var first = await CallAsync("hello.default.example.com");
        Assert.Equal((HttpStatusCode.OK, "Hello world! (hello-00001)\n"), first);

        // Idle: back to zero after the (short) stable window and grace period.
        await WaitForAsync(async () => await ScaleAsync("hello-00001") == (0, 0), TimeSpan.FromSeconds(60), "scale to zero");

        // At zero, a burst of 20 concurrent requests: all answered by the instance started for them.
        var burst = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => CallAsync("hello.default.example.com")));
        Assert.All(burst, r => Assert.Equal(HttpStatusCode.OK, r.Status));

        // A new template makes revision 2; half the traffic stays on revision 1, the new one is also tagged.
        var rollout = Path.Combine(_dir, "rollout.yaml");
        var hello = await File.ReadAllTextAsync(Path.Combine(TrellisBinary.RepoRoot, "samples", "functions", "hello.yaml"));
        await File.WriteAllTextAsync(rollout, hello.Replace("value: world", "value: mars", StringComparison.Ordinal)
            + "  traffic:\n  - revisionName: hello-00001\n    percent: 50\n  - latestRevision: true\n    percent: 50\n    tag: latest\n");
        apply = await TrellisProcess.RunAsync(_server, "apply", "-f", rollout);
        Assert.True(apply.Exit == 0, apply.Stderr);
        await WaitForAsync(async () => (await CallAsync("latest-hello.default.example.com")).Body.Contains("mars", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "tagged revision 2");

        const int n = 200;
        var answers = await Task.WhenAll(Enumerable.Range(0, n).Select(_ => CallAsync("hello.default.example.com")));
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        var mars = answers.Count(a => a.Body.Contains("mars", StringComparison.Ordinal));
        var tolerance = 4 * Math.Sqrt(n * 0.25);
        Assert.True(Math.Abs(mars - (n / 2)) <= tolerance, $"50/50 split over {n}: {mars} on revision 2 (±{tolerance:F0})");

        var ksvc = await TrellisProcess.RunAsync(_server, "get", "ksvc");
        Assert.Contains("hello-00002", ksvc.Stdout, StringComparison.Ordinal);

        var invoke = await TrellisProcess.RunAsync(_server, "invoke", "hello", "--tag", "latest", "--gateway", $"http://127.0.0.1:{_gateway}");
        Assert.True(invoke.Exit == 0, invoke.Stderr);
        Assert.Equal("Hello mars! (hello-00002)\n", invoke.Stdout);
    }

    [Fact]
    public async Task Serving_FunctionExceedsTimeout_Gets504NamingTheTimeout()
    {
        var slow = Path.Combine(_dir, "slow.yaml");
        await File.WriteAllTextAsync(slow, """
            apiVersion: serving.knative.dev/v1
            kind: Service
            metadata: {name: slow}
            spec:
              template:
                metadata:
                  annotations: {autoscaling.knative.dev/min-scale: "1"}
                spec:
                  timeoutSeconds: 1
                  containers:
                  - command: ["dotnet", "samples/functions/bin/functions.dll", "slow"]
            """);
        var apply = await TrellisProcess.RunAsync(_server, "apply", "-f", slow);
        Assert.True(apply.Exit == 0, apply.Stderr);
        await WaitForAsync(async () => (await CallAsync("slow.default.example.com", "/?ms=10")).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(60), "slow ready");

        var (status, body) = await CallAsync("slow.default.example.com", "/?ms=3000");

        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        Assert.Contains("timeout", body, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Serving_FunctionCrashesAtStart_ServiceNotReadyWithReason()
    {
        var crash = Path.Combine(_dir, "crash.yaml");
        await File.WriteAllTextAsync(crash, """
            apiVersion: serving.knative.dev/v1
            kind: Service
            metadata: {name: crash}
            spec:
              template:
                spec:
                  containers:
                  - command: ["sh", "-c", "echo boom >&2; exit 3"]
            """);
        var apply = await TrellisProcess.RunAsync(_server, "apply", "-f", crash);
        Assert.True(apply.Exit == 0, apply.Stderr);

        JsonNode? ready = null;
        await WaitForAsync(async () =>
        {
            var service = await TryGetAsync("/apis/serving.knative.dev/v1/namespaces/default/services/crash");
            ready = (service?["status"]?["conditions"] as JsonArray)?.FirstOrDefault(c => (string?)c?["type"] == "Ready");
            return (string?)ready?["status"] == "False";
        }, TimeSpan.FromSeconds(60), "crash reported");
        Assert.False(string.IsNullOrEmpty((string?)ready!["reason"]));
    }

    private async Task<(HttpStatusCode Status, string Body)> CallAsync(string host, string path = "/")
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{_gateway}{path}");
        request.Headers.Host = host;
        try
        {
            using var response = await _http.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (HttpRequestException e)
        {
            return (0, e.Message);
        }
    }

    private async Task<(int Desired, int Actual)> ScaleAsync(string revision)
    {
        var r = await TryGetAsync($"/apis/serving.knative.dev/v1/namespaces/default/revisions/{revision}");
        return ((int?)r?["status"]?["desiredReplicas"] ?? -1, (int?)r?["status"]?["actualReplicas"] ?? -1);
    }

    private async Task<JsonNode?> TryGetAsync(string path)
    {
        try
        {
            using var response = await _http.GetAsync(_server + path);
            var text = await response.Content.ReadAsStringAsync();
            return !response.IsSuccessStatusCode ? null : text.TrimStart().StartsWith('{') ? JsonNode.Parse(text) : new JsonObject();
        }
        catch (Exception e) when (e is HttpRequestException or System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private Task WaitForAsync(Func<Task<bool>> condition, TimeSpan limit, string what) => Eventually.WaitAsync(condition, limit, what, _up, TimeSpan.FromMilliseconds(200));
}
