using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;

namespace Trellis.EndToEnd.Tests;

/// <summary>
/// Eventing through `trellis up` with real workloads: a function bound by a SinkBinding publishes to its
/// <c>$K_SINK</c> (a Broker) with the binding's <c>K_CE_OVERRIDES</c>, and a Trigger delivers the event; OpenFaaS's
/// <c>POST /async-function/NAME</c> on the ingress gateway itself queues a call and posts the result to the callback.
/// </summary>
public sealed class EventingUpTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-e2e-eventing-up-" + Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new(ApiTokens.Wrap(new SocketsHttpHandler { UseProxy = false })) { Timeout = TimeSpan.FromSeconds(30) };
    private readonly ConcurrentQueue<(string Path, Dictionary<string, string> Headers, string Body)> _received = new();
    private readonly HttpListener _listener = new();
    private Task _listening = Task.CompletedTask;
    private TrellisProcess _up = null!;
    private ControlPlaneApi _api = null!;
    private int _gateway;
    private int _sink;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _sink = FreePorts.Next();
        _listener.Prefixes.Add($"http://127.0.0.1:{_sink}/");
        _listener.Start();
        _listening = Task.Run(ListenAsync);
        _gateway = FreePorts.Next();
        var api = FreePorts.Next();
        _api = new ControlPlaneApi(_http, $"http://127.0.0.1:{api}", "eventing-e2e");
        try
        {
            // After the files, up's options: a free broker port, and events to functions through this test's gateway.
            _up = await FunctionsUp.StartAsync(_dir, _gateway, api,
                "--broker-address", $"127.0.0.1:{FreePorts.Next()}", "--eventing-gateway", $"http://127.0.0.1:{_gateway}/");
        }
        catch
        {
            await StopListenerAsync(); // FunctionsUp has stopped up and deleted the directory
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        await _up.DisposeAsync();
        await StopListenerAsync();
        _http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task StopListenerAsync()
    {
        _listener.Close();
        await _listening;
    }

    [Fact]
    public async Task SinkBinding_BoundFunctionPostsToKSink_WithOverrides_AndATriggerDeliversIt()
    {
        await _api.ApplyAsync($$$"""
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: default}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: orders}
            spec:
              broker: default
              filter: {attributes: {type: com.example.order.created, team: orders}}
              subscriber: {uri: "http://127.0.0.1:{{{_sink}}}/orders"}
            ---
            apiVersion: serving.knative.dev/v1
            kind: Service
            metadata: {name: producer}
            spec:
              template:
                spec:
                  containers:
                  - command: ["dotnet", "samples/functions/bin/functions.dll", "producer"]
            ---
            apiVersion: sources.knative.dev/v1
            kind: SinkBinding
            metadata: {name: bind-producer}
            spec:
              subject: {apiVersion: serving.knative.dev/v1, kind: Service, name: producer}
              sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}
              ceOverrides: {extensions: {team: orders}}
            """);
        await WaitForAsync(async () => Condition(await _api.TryGetAsync("/apis/sources.knative.dev/v1/namespaces/default/sinkbindings/bind-producer"), "Ready") == "True"
            && Condition(await _api.TryGetAsync("/apis/eventing.knative.dev/v1/namespaces/default/triggers/orders"), "Ready") == "True", TimeSpan.FromSeconds(60), "binding and trigger ready");
        var broker = (string?)(await _api.TryGetAsync("/apis/eventing.knative.dev/v1/namespaces/default/brokers/default"))!["status"]!["address"]!["url"];
        Assert.Equal(broker, (string?)(await _api.TryGetAsync("/apis/sources.knative.dev/v1/namespaces/default/sinkbindings/bind-producer"))!["status"]!["sinkUri"]);

        // The function knows nothing of the broker: what it posts to is the K_SINK its instance was given.
        await WaitForAsync(async () => (await CallAsync("producer.default.example.com", "/?amount=7")).Body.Contains("the sink answered 202", StringComparison.Ordinal),
            TimeSpan.FromSeconds(90), "producer publishing to its K_SINK");
        await WaitForAsync(() => Task.FromResult(_received.Any(r => r.Path == "/orders")), TimeSpan.FromSeconds(30), "the Trigger's delivery");
        var delivered = _received.First(r => r.Path == "/orders");
        Assert.Equal("orders", delivered.Headers["ce-team"]); // from K_CE_OVERRIDES
        Assert.Equal("7", delivered.Headers["ce-amount"]);
        Assert.Equal("{\"amount\":7}", delivered.Body);
    }

    [Fact]
    public async Task AsyncFunction_OnTheGateway_Answers202AtOnce_AndPostsTheResultToTheCallback()
    {
        var apply = await TrellisProcess.RunAsync(_api.Server, "apply", "-f", "samples/functions/hello.yaml");
        Assert.True(apply.Exit == 0, apply.Stderr);
        // Like `faas-cli deploy` then invoke: the function's route exists once a revision has been ready.
        await WaitForAsync(async () => (await CallAsync("hello.default.example.com", "/")).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(60), "hello ready");

        HttpResponseMessage? accepted = null;
        await WaitForAsync(async () =>
        {
            accepted?.Dispose();
            using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{_gateway}/async-function/hello") { Content = new StringContent("payload") };
            request.Headers.Add("X-Callback-Url", $"http://127.0.0.1:{_sink}/callback");
            accepted = await SendAsync(request);
            return accepted?.StatusCode == HttpStatusCode.Accepted;
        }, TimeSpan.FromSeconds(60), "the gateway's /async-function/ route");
        var id = accepted!.Headers.GetValues("X-Call-Id").Single();
        Assert.Equal(id, await accepted.Content.ReadAsStringAsync());
        accepted.Dispose();

        await WaitForAsync(() => Task.FromResult(_received.Any(r => r.Path == "/callback")), TimeSpan.FromSeconds(90), "the callback");
        var callback = _received.First(r => r.Path == "/callback");
        Assert.Equal(id, callback.Headers["X-Call-Id"]);
        Assert.Equal("200", callback.Headers["X-Function-Status"]);
        Assert.Equal("hello", callback.Headers["X-Function-Name"]);
        Assert.StartsWith("Hello world!", callback.Body, StringComparison.Ordinal);

        using var missing = await SendAsync(new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{_gateway}/async-function/nope"));
        Assert.Equal(HttpStatusCode.NotFound, missing!.StatusCode);
        var calls = await TrellisProcess.RunAsync(_api.Server, "get", "calls");
        Assert.Contains(id, calls.Stdout, StringComparison.Ordinal);
    }

    private async Task ListenAsync()
    {
        while (true)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var reader = new StreamReader(context.Request.InputStream);
            var headers = context.Request.Headers.AllKeys.Where(k => k is not null).ToDictionary(k => k!, k => context.Request.Headers[k] ?? "", StringComparer.OrdinalIgnoreCase);
            _received.Enqueue((context.Request.Url!.AbsolutePath, headers, await reader.ReadToEndAsync()));
            context.Response.StatusCode = 202;
            context.Response.Close();
        }
    }

    private async Task<HttpResponseMessage?> SendAsync(HttpRequestMessage request)
    {
        try
        {
            return await _http.SendAsync(request);
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    private async Task<(HttpStatusCode Status, string Body)> CallAsync(string host, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{_gateway}{path}");
        request.Headers.Host = host;
        using var response = await SendAsync(request);
        return response is null ? (0, "") : (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static string Condition(JsonNode? o, string type) =>
        (string?)(o?["status"]?["conditions"] as JsonArray)?.FirstOrDefault(c => (string?)c?["type"] == type)?["status"] ?? "";

    private Task WaitForAsync(Func<Task<bool>> condition, TimeSpan limit, string what) => Eventually.WaitAsync(condition, limit, what, _up, TimeSpan.FromMilliseconds(200));
}
