using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.ControlPlane.Eventing;

namespace Trellis.ControlPlane.Tests.Eventing;

/// <summary>
/// SinkBindings in a real control plane: the sink resolved into <c>status.sinkUri</c>, the bound Deployments'
/// status carrying what their instances get (the agent's side is in DeploymentTranslatorTests), Knative's
/// conditions, and the binding taken off again when it goes.
/// </summary>
public sealed class SinkBindingTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-sinkbinding-" + Guid.NewGuid().ToString("N"));
    private ControlPlaneHost _host = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _host = await ControlPlaneHost.StartAsync(new ControlPlaneOptions
        {
            DataDirectory = _dir,
            ApiEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            PushEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            Eventing = new EventingOptions { BrokerEndpoint = new IPEndPoint(IPAddress.Loopback, 0), Tick = TimeSpan.FromMilliseconds(50) },
        }, NullLoggerFactory.Instance);
        _http = ApiServer.AdminClients.For(_host);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _host.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private const string Objects = """
        apiVersion: eventing.knative.dev/v1
        kind: Broker
        metadata: {name: default}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: producer, labels: {role: source}}
        spec:
          selector: {matchLabels: {app: producer}}
          template:
            metadata: {labels: {app: producer}}
            spec:
              containers: [{name: p, command: [sleep, "1000"]}]
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: bystander}
        spec:
          selector: {matchLabels: {app: bystander}}
          template:
            metadata: {labels: {app: bystander}}
            spec:
              containers: [{name: b, command: [sleep, "1000"]}]
        """;

    private const string Binding = """
        apiVersion: sources.knative.dev/v1
        kind: SinkBinding
        metadata: {name: bind-producer}
        spec:
          subject: {apiVersion: apps/v1, kind: Deployment, selector: {matchLabels: {role: source}}}
          sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}
          ceOverrides: {extensions: {team: orders}}
        """;

    [Fact]
    public async Task SinkBinding_BindsTheSelectedDeployment_ReportsReady_AndIsUndoneWhenDeleted()
    {
        await ApplyAsync(Objects + "\n---\n" + Binding);

        var broker = $"{_host.BrokerIngressUrl}default/default";
        await Eventually(async () => Condition(await GetAsync("/apis/sources.knative.dev/v1/namespaces/default/sinkbindings/bind-producer"), "Ready") == "True");
        var binding = await GetAsync("/apis/sources.knative.dev/v1/namespaces/default/sinkbindings/bind-producer");
        Assert.Equal(broker, (string?)binding["status"]!["sinkUri"]);
        Assert.Equal("True", Condition(binding, "SinkProvided"));
        await Eventually(async () => (await GetAsync("/apis/apps/v1/namespaces/default/deployments/producer"))["status"]?["sinkBinding"] is not null);
        var bound = (await GetAsync("/apis/apps/v1/namespaces/default/deployments/producer"))["status"]!["sinkBinding"]!;
        Assert.Equal(broker, (string?)bound["sink"]);
        Assert.Equal("""{"extensions":{"team":"orders"}}""", (string?)bound["ceOverrides"]);
        Assert.Null((await GetAsync("/apis/apps/v1/namespaces/default/deployments/bystander"))["status"]?["sinkBinding"]);

        // Re-applying the Deployment (its spec unchanged or not) keeps the binding: it is not in the spec.
        await ApplyAsync(Objects.Replace("name: p, command: [sleep, \"1000\"]", "name: p, command: [sleep, \"2000\"]", StringComparison.Ordinal));
        Assert.NotNull((await GetAsync("/apis/apps/v1/namespaces/default/deployments/producer"))["status"]?["sinkBinding"]);

        using var delete = await _http.PostAsync("/delete", new StringContent(Binding, Encoding.UTF8, "application/yaml"));
        Assert.True(delete.IsSuccessStatusCode, await delete.Content.ReadAsStringAsync());
        await Eventually(async () => (await GetAsync("/apis/apps/v1/namespaces/default/deployments/producer"))["status"]?["sinkBinding"] is null);
    }

    [Fact]
    public async Task SinkBinding_NamedSubjectMissing_OrSinkMissing_IsNotReadyWithKnativesReasons()
    {
        await ApplyAsync("""
            apiVersion: sources.knative.dev/v1
            kind: SinkBinding
            metadata: {name: no-subject}
            spec:
              subject: {apiVersion: serving.knative.dev/v1, kind: Service, name: producer}
              sink: {uri: "http://127.0.0.1:9/events"}
            ---
            apiVersion: sources.knative.dev/v1
            kind: SinkBinding
            metadata: {name: no-sink}
            spec:
              subject: {apiVersion: apps/v1, kind: Deployment, name: producer}
              sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: nowhere}}
            """);

        await Eventually(async () => Reason(await GetAsync("/apis/sources.knative.dev/v1/namespaces/default/sinkbindings/no-subject"), "Ready") == "SubjectMissing");
        var noSubject = await GetAsync("/apis/sources.knative.dev/v1/namespaces/default/sinkbindings/no-subject");
        Assert.Equal("http://127.0.0.1:9/events", (string?)noSubject["status"]!["sinkUri"]);
        Assert.Contains("Service default/producer (serving.knative.dev/v1) does not exist", Message(noSubject, "Ready"), StringComparison.Ordinal);
        await Eventually(async () => Reason(await GetAsync("/apis/sources.knative.dev/v1/namespaces/default/sinkbindings/no-sink"), "SinkProvided") == "NotFound");
        var noSink = await GetAsync("/apis/sources.knative.dev/v1/namespaces/default/sinkbindings/no-sink");
        Assert.Equal("False", Condition(noSink, "Ready"));
        Assert.Contains("Broker default/nowhere", Message(noSink, "SinkProvided"), StringComparison.Ordinal);
    }

    private async Task ApplyAsync(string yaml)
    {
        using var response = await _http.PostAsync("/apply", new StringContent(yaml, Encoding.UTF8, "application/yaml"));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<JsonNode> GetAsync(string path) => JsonNode.Parse(await _http.GetStringAsync(path))!;

    private static JsonNode? Of(JsonNode o, string type) => (o["status"]?["conditions"] as JsonArray)?.FirstOrDefault(c => (string?)c?["type"] == type);

    private static string Condition(JsonNode o, string type) => (string?)Of(o, type)?["status"] ?? "";

    private static string Reason(JsonNode o, string type) => (string?)Of(o, type)?["reason"] ?? "";

    private static string Message(JsonNode o, string type) => (string?)Of(o, type)?["message"] ?? "";

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
