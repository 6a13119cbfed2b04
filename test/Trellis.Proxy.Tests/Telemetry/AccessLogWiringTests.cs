using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Telemetry.AccessLogs;
using Trellis.Proxy.Tests.Infrastructure;
using Trellis.Proxy.Tests.Pipeline;

namespace Trellis.Proxy.Tests.Telemetry;

/// <summary>
/// Access logs as the Telemetry API and the mesh configuration configure them, through every engine: the listener's
/// logs get one line per request (Istio's text line or JSON keys, or a custom format), a filter keeps some requests out,
/// and the lines are written by the file's writer, off the request path.
/// </summary>
public sealed class AccessLogWiringTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("trellis-access-log-");

    public void Dispose() => _directory.Delete(recursive: true);

    [Theory]
    [InlineData(Engine.Http1Fast, "HTTP/1.1")]
    [InlineData(Engine.Http1Kestrel, "HTTP/1.1")]
    [InlineData(Engine.Http2Fast, "HTTP/2")]
    [InlineData(Engine.Http2Kestrel, "HTTP/2")]
    public async Task Request_EveryEngine_OneIstioTextLine(Engine engine, string protocol)
    {
        var path = Path.Combine(_directory.FullName, "access.log");
        await using var app = await TestBackend.StartAsync(context => context.Response.WriteAsync("hello"));
        await using var proxy = await StartAsync(engine, app.Endpoint, new AccessLogConfig(path));

        using var response = await proxy.Client.SendAsync(Request(engine, "/reviews/0?x=1", ("user-agent", "curl/8"), ("x-request-id", "req-1")));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var line = Assert.Single(await LinesAsync(path, 1));
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(
            line,
            $$"""^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] "GET /reviews/0\?x=1 {{protocol}}" 200 - via_upstream - "-" \d+ \d+ \d+ - "-" "curl/8" "req-1" "reviews:9080" "127\.0\.0\.1:{{app.Endpoint.Port}}" app - 127\.0\.0\.1:{{proxy.Server.BoundEndpoints[0].Port}} 127\.0\.0\.1 - default$"""),
            line);
    }

    [Theory]
    [InlineData(Engine.Http1Fast)]
    [InlineData(Engine.Http2Kestrel)]
    public async Task JsonEncodingAndFilter_OnlyFailuresLoggedAsIstioJson(Engine engine)
    {
        var path = Path.Combine(_directory.FullName, "json.log");
        await using var app = await TestBackend.StartAsync(context =>
        {
            context.Response.StatusCode = context.Request.Path == "/fail" ? 503 : 200;
            return Task.CompletedTask;
        });
        await using var proxy = await StartAsync(engine, app.Endpoint, new AccessLogConfig(path, AccessLogEncoding.Json, Filter: "response.code >= 400"));

        (await proxy.Client.SendAsync(Request(engine, "/ok"))).Dispose();
        (await proxy.Client.SendAsync(Request(engine, "/fail"))).Dispose();
        (await proxy.Client.SendAsync(Request(engine, "/ok"))).Dispose();

        var line = Assert.Single(await LinesAsync(path, 1));
        using var json = JsonDocument.Parse(line);
        Assert.Equal("/fail", json.RootElement.GetProperty("path").GetString());
        Assert.Equal(503, json.RootElement.GetProperty("response_code").GetInt32());
        Assert.Equal("app", json.RootElement.GetProperty("upstream_cluster").GetString());
        Assert.Equal(32, json.RootElement.GetProperty("trace_id").GetString()!.Length);
        await Eventually.TrueAsync(() => proxy.Server.PrometheusMetrics().Contains($"trellis_access_log_lines_total{{path=\"{path}\"}} 1\n", StringComparison.Ordinal), "the line is counted");
    }

    [Fact]
    public async Task CustomFormat_WrittenWithNewlineAdded()
    {
        var path = Path.Combine(_directory.FullName, "custom.log");
        await using var app = await TestBackend.StartAsync(_ => Task.CompletedTask);
        await using var proxy = await StartAsync(Engine.Http1Fast, app.Endpoint, new AccessLogConfig(path, Format: "%REQ(:METHOD)% %RESPONSE_CODE% %REQ(X-CUSTOM):3%"));

        (await proxy.Client.SendAsync(Request(Engine.Http1Fast, "/", ("x-custom", "abcdef")))).Dispose();

        Assert.Equal(["GET 200 abc"], await LinesAsync(path, 1));
    }

    [Fact]
    public async Task Writer_FileNotTakingLines_DropsAndCountsInsteadOfWaiting()
    {
        // A FIFO without a reader: opening it for writing blocks the writer task, as a stuck disk would.
        var fifo = Path.Combine(_directory.FullName, "stuck");
        using (var mkfifo = Process.Start("mkfifo", fifo))
        {
            await mkfifo.WaitForExitAsync();
        }

        var writer = new AccessLogWriter(fifo, capacity: 4);
        var entry = new AccessLogEntry(DateTimeOffset.UnixEpoch, "HTTP/1.1", 200, default, 0, 0, TimeSpan.Zero, new Dictionary<string, string>());
        var accepted = Enumerable.Range(0, 10).Count(_ => writer.TryWrite(AccessLogFormat.IstioText, entry));

        Assert.InRange(accepted, 4, 5); // the channel's capacity, plus the one the writer may have taken before it blocked
        Assert.Equal(10 - accepted, writer.Dropped);

        // Unblock the writer with a reader, drain, and stop.
        await using var reader = new FileStream(fifo, FileMode.Open, FileAccess.Read);
        var drain = reader.CopyToAsync(Stream.Null);
        await writer.DisposeAsync();
        await drain;
        Assert.Equal(accepted, writer.Written);
    }

    private static async Task<ProxyHarness> StartAsync(Engine engine, EndpointConfig app, AccessLogConfig log)
    {
        var http2 = engine is Engine.Http2Fast or Engine.Http2Kestrel;
        var options = new ProxyServerOptions { FastHttp1 = engine == Engine.Http1Fast, FastHttp2 = engine == Engine.Http2Fast };
        var snapshot = new ProxySnapshot(
            "1",
            [new ListenerConfig("productpage/outbound", "127.0.0.1", 0, ListenerKind.Outbound, "out", Protocols: http2 ? HttpProtocols.Http2 : HttpProtocols.Http1AndHttp2,
                Telemetry: new ListenerTelemetryConfig(AccessLogs: [log]))],
            [new RouteTableConfig("out", [new VirtualHostConfig("reviews", ["*"], [Snapshots.Route("default", "app")])])],
            [new ClusterConfig("app", [app])]);
        return await ProxyHarness.StartAsync(snapshot, options);
    }

    private static HttpRequestMessage Request(Engine engine, string path, params (string Name, string Value)[] headers)
    {
        var http2 = engine is Engine.Http2Fast or Engine.Http2Kestrel;
        var request = new HttpRequestMessage(HttpMethod.Get, path)
        {
            Version = http2 ? HttpVersion.Version20 : HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.Host = "reviews:9080";
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    private static async Task<string[]> LinesAsync(string path, int count)
    {
        string[] lines = [];
        await Eventually.TrueAsync(
            () => File.Exists(path) && (lines = File.ReadAllLines(path)).Length >= count,
            $"{count} access-log lines in {path}");
        return lines;
    }
}
