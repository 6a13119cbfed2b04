using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.ControlPlane.Eventing;
using Trellis.Eventing.Storage.JetStream;

namespace Trellis.ControlPlane.Tests.Eventing;

/// <summary>
/// Brokers and Triggers in a real control plane: the ingress on its own port, events stored and
/// delivered over HTTP to a subscriber in the test, statuses written back. On the embedded store here,
/// on JetStream in <see cref="BrokerOnJetStreamTests"/>: the same behaviour on both.
/// </summary>
public class BrokerTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-eventing-" + Guid.NewGuid().ToString("N"));
    private readonly ConcurrentQueue<(string Path, Dictionary<string, string> Headers, string Body)> _received = new();
    private ControlPlaneHost _host = null!;
    private WebApplication _subscriber = null!;
    private HttpClient _http = null!;
    private Func<HttpContext, Task>? _answer;

    private string SubscriberUrl => _subscriber.Urls.First();

    /// <summary>The distributed store to use, or null for the embedded one (the data directory).</summary>
    protected virtual Task<JetStreamOptions?> StartEventStoreAsync() => Task.FromResult<JetStreamOptions?>(null);

    protected virtual Task StopEventStoreAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        var jetStream = await StartEventStoreAsync();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _subscriber = builder.Build();
        _subscriber.Run(async c =>
        {
            using var reader = new StreamReader(c.Request.Body);
            // Copied: Kestrel reuses the header collection once the request is over.
            var headers = c.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            _received.Enqueue((c.Request.Path, headers, await reader.ReadToEndAsync()));
            if (_answer is { } answer)
            {
                await answer(c);
            }
            else
            {
                c.Response.StatusCode = 202;
            }
        });
        await _subscriber.StartAsync();
        _host = await ControlPlaneHost.StartAsync(new ControlPlaneOptions
        {
            DataDirectory = _dir,
            ApiEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            PushEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            // The test's web server also plays the gateway: async calls to functions arrive there.
            Eventing = new EventingOptions { BrokerEndpoint = new IPEndPoint(IPAddress.Loopback, 0), Tick = TimeSpan.FromMilliseconds(50), Gateway = new Uri(SubscriberUrl + "/"), JetStream = jetStream },
        }, NullLoggerFactory.Instance);
        _http = ApiServer.AdminClients.For(_host);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _host.DisposeAsync();
        await _subscriber.DisposeAsync();
        await StopEventStoreAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task ApplyAsync(string yaml)
    {
        using var response = await _http.PostAsync("/apply", new StringContent(yaml, Encoding.UTF8, "application/yaml"));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<JsonNode> GetAsync(string path) => JsonNode.Parse(await _http.GetStringAsync(path))!;

    private async Task<string> BrokerUrlAsync(string name = "default")
    {
        string? url = null;
        await Eventually(async () => (url = (await GetAsync($"/apis/eventing.knative.dev/v1/namespaces/default/brokers/{name}"))["status"]?["address"]?["url"]?.GetValue<string>()) is not null);
        return url!;
    }

    private static string Condition(JsonNode o, string type) =>
        (o["status"]?["conditions"] as JsonArray)?.FirstOrDefault(c => c?["type"]?.GetValue<string>() == type)?["status"]?.GetValue<string>() ?? "";

    private async Task TriggerReadyAsync(string name) =>
        await Eventually(async () => Condition(await GetAsync($"/apis/eventing.knative.dev/v1/namespaces/default/triggers/{name}"), "Ready") == "True");

    private static HttpRequestMessage Binary(string url, string id, string type, string body = "{\"n\":1}")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("ce-specversion", "1.0");
        request.Headers.Add("ce-id", id);
        request.Headers.Add("ce-source", "/test");
        request.Headers.Add("ce-type", type);
        return request;
    }

    private string Setup(string triggerExtra = "", string brokerSpec = "{}") => $$"""
        apiVersion: eventing.knative.dev/v1
        kind: Broker
        metadata: {name: default}
        spec: {{brokerSpec}}
        ---
        apiVersion: eventing.knative.dev/v1
        kind: Trigger
        metadata: {name: orders}
        spec:
          broker: default
          subscriber: {uri: "{{SubscriberUrl}}/orders"}
        {{triggerExtra}}
        """;

    [Fact]
    public async Task Broker_GetsKnativeAddress_AndDeliversFilteredEvents()
    {
        await ApplyAsync(Setup("""
              filters:
              - cesql: "type LIKE 'order.%'"
            """));
        var url = await BrokerUrlAsync();
        Assert.Matches("^http://127\\.0\\.0\\.1:[0-9]+/default/default$", url);
        await TriggerReadyAsync("orders");

        using var client = new HttpClient();
        Assert.Equal(HttpStatusCode.Accepted, (await client.SendAsync(Binary(url, "1", "order.created"))).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await client.SendAsync(Binary(url, "2", "invoice.created"))).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await client.SendAsync(Binary(url, "3", "order.paid"))).StatusCode);

        await Eventually(() => Task.FromResult(_received.Count == 2));
        Assert.All(_received, r => Assert.Equal("/orders", r.Path));
        Assert.Equal(["1", "3"], _received.Select(r => r.Headers["ce-id"]).Order());
        Assert.All(_received, r => Assert.False(string.IsNullOrEmpty(r.Headers.GetValueOrDefault("ce-knativearrivaltime"))));
        await Eventually(async () => (await GetAsync("/apis/eventing.knative.dev/v1/namespaces/default/triggers/orders"))["status"]?["delivery"]?["delivered"]?.GetValue<long>() == 2);
    }

    [Fact]
    public async Task Ingress_RefusesWhatIsNotAValidCloudEvent_AndStoresNothing()
    {
        await ApplyAsync(Setup());
        var url = await BrokerUrlAsync();
        await TriggerReadyAsync("orders");
        using var client = new HttpClient();

        var missing = Binary(url, "1", "t");
        missing.Headers.Remove("ce-specversion");
        var bad = await client.SendAsync(missing);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("ce-specversion", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var badTime = Binary(url, "2", "t");
        badTime.Headers.Add("ce-time", "not-a-time");
        Assert.Equal(HttpStatusCode.BadRequest, (await client.SendAsync(badTime)).StatusCode);

        var batch = new StringContent("""[{"specversion":"1.0","id":"a","source":"/s","type":"t"},{"specversion":"1.0","source":"/s","type":"t"}]""", Encoding.UTF8, "application/cloudevents-batch+json");
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync(url, batch)).StatusCode);

        var huge = Binary(url, "3", "t", "\"" + new string('x', 5 * 1024 * 1024) + "\"");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await client.SendAsync(huge)).StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await client.SendAsync(Binary(url.Replace("/default/default", "/default/nope", StringComparison.Ordinal), "4", "t"))).StatusCode);

        // A good event afterwards is the only one delivered: none of the refused ones was stored.
        Assert.Equal(HttpStatusCode.Accepted, (await client.SendAsync(Binary(url, "good", "t"))).StatusCode);
        await Eventually(() => Task.FromResult(_received.Any(r => r.Headers.GetValueOrDefault("ce-id") == "good")));
        Assert.Equal(["good"], _received.Select(r => r.Headers["ce-id"]));
    }

    private static StringContent Batch(params string[] events) =>
        new("[" + string.Join(",", events) + "]", Encoding.UTF8, "application/cloudevents-batch+json");

    private static string Structured(string id, string type, string extra = "") =>
        $$"""{"specversion":"1.0","id":"{{id}}","source":"/batch","type":"{{type}}"{{extra}}}""";

    [Fact]
    public async Task Ingress_Batch_IsOneAnswer_AndEachEventIsDeliveredOnItsOwn()
    {
        await ApplyAsync(Setup("""
              filters:
              - cesql: "type LIKE 'order.%'"
            """));
        var url = await BrokerUrlAsync();
        await TriggerReadyAsync("orders");
        using var client = new HttpClient();

        using var answer = await client.PostAsync(url, Batch(
            Structured("b1", "order.created", ""","datacontenttype":"application/json","data":{"n":1}"""),
            Structured("b2", "invoice.created"),
            Structured("b3", "order.paid", ""","subject":"café","team":"orders" """)));
        Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);

        // Each event went its own way: filtered on its own, delivered as one binary-mode request of its own.
        await Eventually(() => Task.FromResult(_received.Count == 2));
        await Eventually(async () => (await GetAsync("/apis/eventing.knative.dev/v1/namespaces/default/triggers/orders"))["status"]?["delivery"]?["delivered"]?.GetValue<long>() == 2);
        var byId = _received.ToDictionary(r => r.Headers["ce-id"]);
        Assert.Equal(["b1", "b3"], byId.Keys.Order());
        Assert.Equal("{\"n\":1}", byId["b1"].Body);
        Assert.Equal("orders", byId["b3"].Headers["ce-team"]);
        Assert.Equal("caf%C3%A9", byId["b3"].Headers["ce-subject"]);
        Assert.All(_received, r => Assert.False(string.IsNullOrEmpty(r.Headers.GetValueOrDefault("ce-knativearrivaltime"))));
    }

    [Fact]
    public async Task Ingress_RefusedOrEmptyBatch_StoresNothing()
    {
        await ApplyAsync(Setup());
        var url = await BrokerUrlAsync();
        await TriggerReadyAsync("orders");
        using var client = new HttpClient();

        // The JSON format allows an empty batch: accepted, nothing to store.
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync(url, Batch())).StatusCode);

        // One bad event refuses the whole request, and the reason says which one.
        using var badTime = await client.PostAsync(url, Batch(Structured("x0", "t"), Structured("x1", "t"), Structured("x2", "t", ""","time":"noon" """)));
        Assert.Equal(HttpStatusCode.BadRequest, badTime.StatusCode);
        Assert.Contains("event 2 of the batch", await badTime.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var noId = await client.PostAsync(url, Batch(Structured("y0", "t"), """{"specversion":"1.0","source":"/s","type":"t"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, noId.StatusCode);
        Assert.Equal("event 1 of the batch: missing required attribute(s) id", await noId.Content.ReadAsStringAsync());

        // Over the request limit as a whole (4 MiB), though each event is small.
        var many = Enumerable.Range(0, 5 * 1024).Select(i => Structured($"z{i}", "t", $$""","data":"{{new string('x', 1024)}}" """)).ToArray();
        using var tooLarge = await client.PostAsync(url, Batch(many));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);

        // A good event afterwards is the only one delivered: nothing of the refused batches was stored.
        Assert.Equal(HttpStatusCode.Accepted, (await client.SendAsync(Binary(url, "good", "t"))).StatusCode);
        await Eventually(() => Task.FromResult(_received.Any(r => r.Headers.GetValueOrDefault("ce-id") == "good")));
        Assert.Equal(["good"], _received.Select(r => r.Headers["ce-id"]));
    }

    [Fact]
    public async Task FailingSubscriber_EventEndsInTheDeadLetterSinkWithErrorExtensions()
    {
        _answer = async c =>
        {
            c.Response.StatusCode = c.Request.Path == "/orders" ? 503 : 202;
            await c.Response.WriteAsync("try later");
        };
        await ApplyAsync(Setup($$"""
              delivery:
                retry: 2
                backoffPolicy: linear
                backoffDelay: PT0.01S
                deadLetterSink: {uri: "{{SubscriberUrl}}/dead"}
            """));
        var url = await BrokerUrlAsync();
        await TriggerReadyAsync("orders");
        using var client = new HttpClient();
        Assert.Equal(HttpStatusCode.Accepted, (await client.SendAsync(Binary(url, "doomed", "t"))).StatusCode);

        await Eventually(() => Task.FromResult(_received.Any(r => r.Path == "/dead")));
        Assert.Equal(3, _received.Count(r => r.Path == "/orders"));
        var dead = _received.Single(r => r.Path == "/dead");
        Assert.Equal("doomed", dead.Headers["ce-id"]);
        Assert.Equal($"{SubscriberUrl}/orders", dead.Headers["ce-knativeerrordest"]);
        Assert.Equal("503", dead.Headers["ce-knativeerrorcode"]);
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes("try later")), dead.Headers["ce-knativeerrordata"]);
    }

    [Fact]
    public async Task Trigger_WithMissingBrokerOrBadFilter_IsNotReadyWithTheReason()
    {
        await ApplyAsync($$"""
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: lonely}
            spec:
              broker: nobody
              subscriber: {uri: "{{SubscriberUrl}}"}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: default}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: badfilter}
            spec:
              broker: default
              filters: [{cesql: "type = "}]
              subscriber: {uri: "{{SubscriberUrl}}"}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: nosub}
            spec:
              broker: default
              subscriber:
                ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: ghost}
            """);

        await Eventually(async () => Reason(await GetAsync("/apis/eventing.knative.dev/v1/namespaces/default/triggers/lonely")) == "BrokerDoesNotExist");
        await Eventually(async () => Reason(await GetAsync("/apis/eventing.knative.dev/v1/namespaces/default/triggers/badfilter")) == "InvalidFilter");
        await Eventually(async () => Reason(await GetAsync("/apis/eventing.knative.dev/v1/namespaces/default/triggers/nosub")) == "Unresolved");
    }

    [Fact]
    public async Task PingSource_ResolvesItsSink_OrSaysWhyNot()
    {
        await ApplyAsync($$"""
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: default}
            ---
            apiVersion: sources.knative.dev/v1
            kind: PingSource
            metadata: {name: beat}
            spec:
              schedule: "*/5 * * * *"
              timezone: Europe/Paris
              data: '{"hello": "world"}'
              contentType: application/json
              sink:
                ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
            ---
            apiVersion: sources.knative.dev/v1
            kind: PingSource
            metadata: {name: nowhere}
            spec:
              schedule: "0 * * * *"
              sink:
                ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: missing}
            """);

        var url = await BrokerUrlAsync();
        await Eventually(async () => Condition(await GetAsync("/apis/sources.knative.dev/v1/namespaces/default/pingsources/beat"), "Ready") == "True");
        Assert.Equal(url, (await GetAsync("/apis/sources.knative.dev/v1/namespaces/default/pingsources/beat"))["status"]?["sinkUri"]?.GetValue<string>());
        await Eventually(async () => Reason(await GetAsync("/apis/sources.knative.dev/v1/namespaces/default/pingsources/nowhere")) == "NotFound");
    }

    [Fact]
    public async Task AsyncFunction_AnswersWithACallId_RunsThroughTheGateway_AndPostsTheResult()
    {
        _answer = async c =>
        {
            c.Response.StatusCode = c.Request.Path.StartsWithSegments("/callback") ? 204 : 200;
            await c.Response.WriteAsync(c.Request.Path.StartsWithSegments("/callback") ? "" : "hello from the function");
        };
        await ApplyAsync("""
            apiVersion: serving.knative.dev/v1
            kind: Service
            metadata: {name: hello}
            spec:
              template:
                spec:
                  containers: [{image: local, command: ["true"]}]
            """);
        var ingress = _host.BrokerIngressUrl!;
        using var client = new HttpClient();

        using var missing = await client.PostAsync(new Uri(ingress, "async-function/nope"), new StringContent("x"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var badCallback = new HttpRequestMessage(HttpMethod.Post, new Uri(ingress, "async-function/hello")) { Content = new StringContent("x") };
        badCallback.Headers.Add("X-Callback-Url", "not a url");
        Assert.Equal(HttpStatusCode.BadRequest, (await client.SendAsync(badCallback)).StatusCode);

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(ingress, "async-function/hello.default/greet?x=1")) { Content = new StringContent("payload") };
        request.Headers.Add("X-Callback-Url", $"{SubscriberUrl}/callback");
        using var queued = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, queued.StatusCode);
        var id = queued.Headers.GetValues("X-Call-Id").Single();
        Assert.Equal(id, await queued.Content.ReadAsStringAsync());

        await Eventually(() => Task.FromResult(_received.Any(r => r.Path == "/callback")));
        var call = _received.First(r => r.Path == "/greet");
        Assert.Equal("hello.default.example.com", call.Headers["Host"]);
        Assert.Equal("payload", call.Body);
        var callback = _received.Single(r => r.Path == "/callback");
        Assert.Equal(id, callback.Headers["X-Call-Id"]);
        Assert.Equal("200", callback.Headers["X-Function-Status"]);
        Assert.Equal("hello from the function", callback.Body);

        await Eventually(async () => (await GetAsync("/eventing/v1/calls"))["items"]?.AsArray().SingleOrDefault()?["phase"]?.GetValue<string>() == "Done");
    }

    private static string Reason(JsonNode o) =>
        (o["status"]?["conditions"] as JsonArray)?.FirstOrDefault(c => c?["type"]?.GetValue<string>() == "Ready")?["reason"]?.GetValue<string>() ?? "";

    private static async Task Eventually(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 20 s");
            await Task.Delay(20);
        }
    }
}
