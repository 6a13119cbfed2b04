using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Tests.ApiServer;

namespace Trellis.ControlPlane.Tests.Push;

/// <summary>The push protocol of docs/protocol.md, spoken by hand over HTTP/2 against a real control plane.</summary>
public sealed class PushStreamTests
{
    [Fact]
    public async Task Stream_HelloThenChange_PushesNewVersionAndRecordsAckAndNack()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        await using var stream = await PushStream.OpenAsync(cp.Host.PushUrl, cp.AdminToken, new ProxyHello("node/n1", ProxyRole.Node, "n1", new Dictionary<string, string>()));

        var first = await stream.NextAsync();
        Assert.Empty(first.Listeners);
        await stream.AckAsync(new ProxyAck(first.Version, true, []));

        // An instance appears on node n1: the node proxy must get its two listeners.
        await Report(cp, new WorkloadInstance("reviews-v1-abcde", "n1", "reviews-v1", "default", new Dictionary<string, string> { ["app"] = "reviews" }, "127.0.0.1",
            new Dictionary<string, int> { ["app"] = 30001, ["inbound"] = 30002, ["outbound"] = 30003 }, "Ready", true, 0, null, 1234, null));
        var second = await stream.NextAsync();
        Assert.NotEqual(first.Version, second.Version);
        Assert.Equal([30002, 30003], second.Listeners.Select(l => l.Port).Order());

        await stream.AckAsync(new ProxyAck(second.Version, false, ["listener port 30002 in use"]));
        var proxy = await WaitForAsync(cp, p => (string?)p["nacked"] == second.Version);
        Assert.Equal(first.Version, (string?)proxy["acked"]);
        Assert.Equal("listener port 30002 in use", (string?)proxy["errors"]![0]);
        Assert.False((bool)proxy["synced"]!);
    }

    [Fact]
    public async Task Stream_ChangeOutsideTheView_PushesNothing()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        await using var stream = await PushStream.OpenAsync(cp.Host.PushUrl, cp.AdminToken, new ProxyHello("gateway/g", ProxyRole.Gateway, null, new Dictionary<string, string> { ["istio"] = "ingressgateway" }));
        var first = await stream.NextAsync();

        await Report(cp, new WorkloadInstance("x-1", "n9", "x", "default", new Dictionary<string, string>(), "127.0.0.1",
            new Dictionary<string, int> { ["app"] = 1 }, "Ready", true, 0, null, null, null));
        await cp.PostAsync("/apply", TestResources.ReviewsRule);

        await Assert.ThrowsAsync<TimeoutException>(() => stream.NextAsync(TimeSpan.FromMilliseconds(500)));
        Assert.Equal(first.Version, (string?)(await WaitForAsync(cp, _ => true))["sent"]);
    }

    [Fact]
    public async Task Stream_QuietForLongerThanKestrelsDataRateGrace_StaysConnected()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        await using var stream = await PushStream.OpenAsync(cp.Host.PushUrl, cp.AdminToken, new ProxyHello("node/quiet", ProxyRole.Node, "quiet", new Dictionary<string, string>()));
        await stream.NextAsync();
        var connectedAt = (string?)(await WaitForAsync(cp, p => (string?)p["name"] == "node/quiet"))["connectedAt"];

        await Task.Delay(TimeSpan.FromSeconds(7)); // Kestrel's minimum request body rate applies after a 5 s grace

        var proxy = await WaitForAsync(cp, p => (string?)p["name"] == "node/quiet");
        Assert.Equal(connectedAt, (string?)proxy["connectedAt"]);
    }

    [Fact]
    public async Task Stream_BadHello_Is400()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(cp.Host.PushUrl, "/push/v1/stream"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new StringContent("{\"name\":\"\"}\n"),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", cp.AdminToken);
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    private static async Task Report(ControlPlaneFixture cp, WorkloadInstance instance)
    {
        var status = new NodeStatus(instance.Node, null, [instance]);
        using var response = await cp.Http.PutAsync($"/registry/v1/nodes/{instance.Node}", new StringContent(JsonSerializer.Serialize(status, WireJson.Options), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    private static async Task<JsonNode> WaitForAsync(ControlPlaneFixture cp, Func<JsonNode, bool> condition)
    {
        for (var i = 0; i < 100; i++)
        {
            var proxies = JsonNode.Parse(await cp.Http.GetStringAsync("/debug/proxies"))!.AsArray();
            if (proxies.FirstOrDefault(p => condition(p!)) is { } found)
            {
                return found;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("the control plane never showed the expected proxy state");
    }

    /// <summary>A proxy's side of the stream: request body = hello + acks, response body = snapshots.</summary>
    private sealed class PushStream : IAsyncDisposable
    {
        private readonly HttpClient _http;
        private readonly HttpResponseMessage _response;
        private readonly StreamReader _reader;
        private readonly Channel<string> _outgoing;

        private PushStream(HttpClient http, HttpResponseMessage response, StreamReader reader, Channel<string> outgoing)
        {
            _http = http;
            _response = response;
            _reader = reader;
            _outgoing = outgoing;
        }

        public static async Task<PushStream> OpenAsync(Uri push, string? token, ProxyHello hello)
        {
            var outgoing = Channel.CreateUnbounded<string>();
            outgoing.Writer.TryWrite(JsonSerializer.Serialize(hello, WireJson.Options));
            var http = new HttpClient();
            var request = new HttpRequestMessage(HttpMethod.Post, new Uri(push, "/push/v1/stream"))
            {
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                Content = new LinesContent(outgoing.Reader),
            };
            if (token is not null)
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            }

            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return new PushStream(http, response, new StreamReader(await response.Content.ReadAsStreamAsync()), outgoing);
        }

        public async Task<ProxySnapshot> NextAsync(TimeSpan? wait = null)
        {
            var read = _reader.ReadLineAsync();
            if (await Task.WhenAny(read, Task.Delay(wait ?? TimeSpan.FromSeconds(10))) != read)
            {
                throw new TimeoutException("no snapshot pushed");
            }

            return JsonSerializer.Deserialize<ProxySnapshot>((await read)!, WireJson.Options)!;
        }

        public Task AckAsync(ProxyAck ack) => _outgoing.Writer.WriteAsync(JsonSerializer.Serialize(ack, WireJson.Options)).AsTask();

        public ValueTask DisposeAsync()
        {
            _outgoing.Writer.TryComplete();
            _reader.Dispose();
            _response.Dispose();
            _http.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private sealed class LinesContent(ChannelReader<string> lines) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await foreach (var line in lines.ReadAllAsync())
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"));
                await stream.FlushAsync();
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }
}
