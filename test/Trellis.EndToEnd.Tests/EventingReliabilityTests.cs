using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Trellis.EndToEnd.Tests;

/// <summary>
/// The broker's promise under a crash: a control plane killed with SIGKILL during a steady stream of
/// events, then restarted on the same data directory, delivers every event it answered 202, and never
/// one it refused. (An event whose request got no answer at all, cut by the kill, may go either way.)
/// With the JetStream store the NATS server is SIGKILLed and restarted as well.
/// </summary>
public sealed class EventingReliabilityTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-e2e-eventing-" + Guid.NewGuid().ToString("N"));
    private readonly ConcurrentDictionary<string, int> _received = new();
    private readonly HttpListener _subscriber = new();
    private readonly CancellationTokenSource _stop = new();
    private int _subscriberPort;
    private Task _serving = Task.CompletedTask;

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _subscriberPort = FreePorts.Next();
        _subscriber.Prefixes.Add($"http://127.0.0.1:{_subscriberPort}/");
        _subscriber.Start();
        _serving = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                HttpListenerContext context;
                try
                {
                    context = await _subscriber.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                _received.AddOrUpdate(context.Request.Headers["ce-id"] ?? "", 1, (_, n) => n + 1);
                context.Response.StatusCode = 200;
                context.Response.Close();
            }
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        _subscriber.Close();
        await _serving;
        Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData("file")]
    [InlineData("jetstream")]
    public async Task ControlPlane_KilledDuringAStream_DeliversEveryAcceptedEventAndNoRefusedOne(string store)
    {
        await using var nats = store == "jetstream" ? await Trellis.Eventing.Tests.Storage.NatsServer.StartAsync() : null;
        var api = FreePorts.Next();
        var broker = FreePorts.Next();
        string[] args = ["controlplane", "--data-dir", _dir, "--api-address", $"127.0.0.1:{api}", "--push-address", $"127.0.0.1:{FreePorts.Next()}", "--broker-address", $"127.0.0.1:{broker}",
            "--event-store", nats?.Url ?? "file"];
        var brokerUrl = $"http://127.0.0.1:{broker}/default/default";
        var accepted = new ConcurrentBag<string>();
        var refused = new ConcurrentBag<string>();
        using var http = ApiTokens.Client(new Uri($"http://127.0.0.1:{api}"));
        await using (var cp = TrellisProcess.Start(args))
        {
            await WaitTriggerReadyAsync(http, cp);
            using var streaming = new CancellationTokenSource();
            using var publisher = new HttpClient();
            var streams = Enumerable.Range(0, 4).Select(s => Task.Run(async () =>
            {
                for (var i = 0; !streaming.IsCancellationRequested; i++)
                {
                    var id = $"s{s}-{i.ToString(CultureInfo.InvariantCulture)}";
                    var malformed = i % 10 == 9;
                    using var request = new HttpRequestMessage(HttpMethod.Post, brokerUrl) { Content = new StringContent($"{{\"n\":{i}}}", Encoding.UTF8, "application/json") };
                    request.Headers.Add("ce-specversion", "1.0");
                    request.Headers.Add("ce-id", id);
                    request.Headers.Add("ce-source", "/stream");
                    request.Headers.Add("ce-type", "tick");
                    request.Headers.Add("ce-time", malformed ? "not-a-time" : "2026-01-01T00:00:00Z");
                    try
                    {
                        using var response = await publisher.SendAsync(request);
                        (response.StatusCode == HttpStatusCode.Accepted ? accepted : refused).Add(id);
                    }
                    catch (HttpRequestException)
                    {
                        return; // the broker is gone: this request's fate is unknown
                    }
                }
            })).ToArray();

            await Eventually.WaitAsync(() => Task.FromResult(accepted.Count >= 300), TimeSpan.FromSeconds(60), "300 accepted events", cp);
            cp.KillHard(); // SIGKILL in the middle of the stream
            nats?.Kill();
            await Task.WhenAll(streams).WaitAsync(TimeSpan.FromSeconds(30));
        }

        if (nats is not null)
        {
            await nats.RestartAsync();
        }

        Assert.NotEmpty(refused);
        await using var restarted = TrellisProcess.Start(args);
        await Eventually.WaitAsync(() => Task.FromResult(accepted.All(_received.ContainsKey)), TimeSpan.FromSeconds(60), $"delivery of all {accepted.Count} accepted events", restarted);
        var delivered = refused.Where(_received.ContainsKey).ToList();
        Assert.True(delivered.Count == 0, $"refused events were delivered: {string.Join(",", delivered.Take(5))}");
    }

    private async Task WaitTriggerReadyAsync(HttpClient http, TrellisProcess cp)
    {
        await Eventually.WaitAsync(async () =>
        {
            try
            {
                return (await http.GetAsync("/healthz")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), "control plane healthy", cp);
        var yaml = $"""
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {"{"}name: default{"}"}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {"{"}name: all{"}"}
            spec:
              broker: default
              subscriber: {"{"}uri: "http://127.0.0.1:{_subscriberPort}/"{"}"}
            """;
        using var applied = await http.PostAsync("/apply", new StringContent(yaml, Encoding.UTF8, "application/yaml"));
        Assert.True(applied.IsSuccessStatusCode, await applied.Content.ReadAsStringAsync());
        await Eventually.WaitAsync(async () =>
        {
            var trigger = JsonNode.Parse(await http.GetStringAsync("/apis/eventing.knative.dev/v1/namespaces/default/triggers/all"))!;
            return (trigger["status"]?["conditions"] as JsonArray)?.Any(c => (string?)c?["type"] == "Ready" && (string?)c?["status"] == "True") == true;
        }, TimeSpan.FromSeconds(30), "trigger ready", cp);
    }
}
