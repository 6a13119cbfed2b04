using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Runtime;

namespace Trellis.Agent.Tests;

/// <summary>An instance is reported ready only once its inbound listener on the node proxy serves.</summary>
public sealed class RegistryReporterTests : IDisposable
{
    private readonly Capture _capture = new();
    private readonly HttpClient _http;
    private readonly CancellationTokenSource _stop = new();

    public RegistryReporterTests() => _http = new HttpClient(_capture) { BaseAddress = new Uri("http://127.0.0.1:1") };

    public void Dispose()
    {
        _stop.Cancel();
        _http.Dispose();
        _stop.Dispose();
    }

    [Fact]
    public async Task Update_ReadyBeforeItsListener_ReportedNotReadyThenReadyWhenTheProxyAppliesIt()
    {
        var listening = new ConcurrentDictionary<string, bool>();
        using var reporter = new RegistryReporter(_http, Options(), () => null, NullLogger.Instance) { InboundServing = listening.ContainsKey };
        var run = reporter.RunAsync(_stop.Token);

        reporter.Update([Instance("fn-00001-deployment-abcde", ready: true)]);
        var first = await _capture.NextAsync();
        Assert.Equal((false, "Running", "waiting for its inbound proxy listener"), Of(first));

        listening["fn-00001-deployment-abcde/inbound"] = true;
        reporter.OnProxyApplied();
        var second = await _capture.NextAsync();

        Assert.Equal((true, "Ready", null), Of(second));
        await _stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Update_NotReady_NoListenerNeededAndNotHeldBack()
    {
        using var reporter = new RegistryReporter(_http, Options(), () => null, NullLogger.Instance) { InboundServing = _ => false };
        var run = reporter.RunAsync(_stop.Token);

        reporter.Update([Instance("fn-00001-deployment-abcde", ready: false)]);

        Assert.Equal((false, "Starting", null), Of(await _capture.NextAsync()));
        reporter.OnProxyApplied(); // nothing held back: no report
        reporter.Update([Instance("fn-00001-deployment-abcde", ready: false)]);
        Assert.Equal((false, "Starting", null), Of(await _capture.NextAsync()));
        Assert.Equal(2, _capture.Count);
        await _stop.CancelAsync();
        await run;
    }

    private static (bool Ready, string? Phase, string? Message) Of(JsonNode body)
    {
        var instance = body["instances"]![0]!;
        return ((bool)instance["ready"]!, (string?)instance["phase"], (string?)instance["message"]);
    }

    private static AgentOptions Options() => new()
    {
        Node = "n1",
        ControlPlane = new Uri("http://127.0.0.1:1"),
        Push = new Uri("http://127.0.0.1:1"),
        DataDirectory = Path.GetTempPath(),
        Heartbeat = TimeSpan.FromHours(1),
    };

    private static InstanceStatus Instance(string id, bool ready) => new(
        id, "fn-00001-deployment", "default", new Dictionary<string, string>(), ready ? InstancePhase.Ready : InstancePhase.Starting, ready,
        1234, 30001, new Dictionary<string, int> { ["inbound"] = 30002, ["outbound"] = 30003 }, 0, DateTimeOffset.UnixEpoch, null, null, "/dev/null");

    /// <summary>Answers every PUT with 200 and hands its JSON body to the test, in order.</summary>
    private sealed class Capture : HttpMessageHandler
    {
        private readonly System.Threading.Channels.Channel<JsonNode> _bodies = System.Threading.Channels.Channel.CreateUnbounded<JsonNode>();

        public int Count { get; private set; }

        public async Task<JsonNode> NextAsync() => await _bodies.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Count++;
            _bodies.Writer.TryWrite(JsonNode.Parse(await request.Content!.ReadAsStringAsync(cancellationToken))!);
            return new HttpResponseMessage(HttpStatusCode.OK);
        }
    }
}
