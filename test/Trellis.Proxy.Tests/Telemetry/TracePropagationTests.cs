using System.Net;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;
using Trellis.Proxy.Tests.Pipeline;

namespace Trellis.Proxy.Tests.Telemetry;

/// <summary>
/// Trace context through a proxy hop on every engine: a valid context is continued (same trace, the caller's span as
/// parent, the sampling decision kept), B3 is read too, and a malformed header is replaced by a new trace, never
/// forwarded as it came.
/// </summary>
public sealed class TracePropagationTests
{
    private const string Parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    public static TheoryData<Engine> Engines => Pipeline.Engines.All();

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task ValidTraceParent_EveryEngine_ContinuedWithNewSpan(Engine engine)
    {
        var seen = await ForwardAsync(engine, ("traceparent", Parent), ("tracestate", "congo=t61rcWkgMzE"));

        Assert.Matches("^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$", seen["traceparent"]);
        Assert.NotEqual("00f067aa0ba902b7", seen["traceparent"][36..52]);
        Assert.Equal("congo=t61rcWkgMzE", seen["tracestate"]);
        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", seen["x-b3-traceid"]);
        Assert.Equal(seen["traceparent"][36..52], seen["x-b3-spanid"]);
        Assert.Equal("00f067aa0ba902b7", seen["x-b3-parentspanid"]);
        Assert.Equal("1", seen["x-b3-sampled"]);
    }

    [Theory]
    [InlineData("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01")] // upper case
    [InlineData("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")] // version ff
    [InlineData("00-00000000000000000000000000000000-00f067aa0ba902b7-01")] // all-zero trace id
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7")] // too short
    public async Task MalformedTraceParent_ReplacedByANewTrace(string traceparent)
    {
        var seen = await ForwardAsync(Engine.Http1Fast, ("traceparent", traceparent), ("tracestate", "congo=t61rcWkgMzE"));

        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", seen["traceparent"]);
        Assert.DoesNotContain("4bf92f3577b34da6a3ce929d0e0e4736", seen["traceparent"], StringComparison.OrdinalIgnoreCase);
        Assert.False(seen.ContainsKey("tracestate")); // it belonged to the broken parent
        Assert.False(seen.ContainsKey("x-b3-parentspanid"));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task B3SingleHeader_EveryEngine_ContinuedInBothFormats(Engine engine)
    {
        var seen = await ForwardAsync(engine, ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0"));

        Assert.Matches("^00-80f198ee56343ba864fe8b2a57d3eff7-[0-9a-f]{16}-00$", seen["traceparent"]);
        Assert.Equal("e457b5a2e4d86bd1", seen["x-b3-parentspanid"]);
        Assert.Equal("0", seen["x-b3-sampled"]);
        Assert.False(seen.ContainsKey("b3")); // replaced by the multi-header form of this hop
    }

    [Fact]
    public async Task B3MultiHeaders_Continued()
    {
        var seen = await ForwardAsync(Engine.Http1Fast, ("x-b3-traceid", "463ac35c9f6413ad"), ("x-b3-spanid", "a2fb4a1d1a96d312"), ("x-b3-sampled", "1"));

        Assert.Matches("^00-0000000000000000463ac35c9f6413ad-[0-9a-f]{16}-01$", seen["traceparent"]);
        Assert.Equal("a2fb4a1d1a96d312", seen["x-b3-parentspanid"]);
    }

    [Fact]
    public async Task NoContext_NewTraceSampledAtTheListenersPercentage()
    {
        var never = await ForwardAsync(Engine.Http1Fast, sampling: 0);
        var always = await ForwardAsync(Engine.Http1Fast, sampling: 100);

        Assert.EndsWith("-00", never["traceparent"], StringComparison.Ordinal);
        Assert.EndsWith("-01", always["traceparent"], StringComparison.Ordinal);
        Assert.NotEqual(never["traceparent"][3..35], always["traceparent"][3..35]);
    }

    private static async Task<Dictionary<string, string>> ForwardAsync(Engine engine, params (string Name, string Value)[] headers) =>
        await ForwardAsync(engine, 1, headers);

    private static async Task<Dictionary<string, string>> ForwardAsync(Engine engine, double sampling, params (string Name, string Value)[] headers)
    {
        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        await using var app = await TestBackend.StartAsync(context =>
        {
            foreach (var name in new[] { "traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled" })
            {
                if (context.Request.Headers.TryGetValue(name, out var value))
                {
                    seen[name] = value.ToString();
                }
            }

            return Task.CompletedTask;
        });
        var tracing = new ListenerTelemetryConfig(Tracing: new TracingConfig(sampling, "http://127.0.0.1:4318"));
        var listener = Snapshots.Listener(protocols: engine.IsHttp2() ? HttpProtocols.Http2 : HttpProtocols.Http1) with { Telemetry = tracing };
        var snapshot = new ProxySnapshot("1", [listener], [new RouteTableConfig("rt", [new VirtualHostConfig("all", ["*"], [Snapshots.Route("default", "app")])])], [new ClusterConfig("app", [app.Endpoint])]);
        var options = new ProxyServerOptions { FastHttp1 = engine == Engine.Http1Fast, FastHttp2 = engine == Engine.Http2Fast };
        await using var proxy = await ProxyHarness.StartAsync(snapshot, options);
        using var request = Pipeline.Engines.Request(engine, HttpMethod.Get, "/", headers);
        using var response = await proxy.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return seen;
    }
}
