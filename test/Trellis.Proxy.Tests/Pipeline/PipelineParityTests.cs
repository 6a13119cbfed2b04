using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Pipeline;

/// <summary>
/// The same route policies through every engine: the HTTP/1.1 fast path, the HTTP/2 fast path and the Kestrel path
/// for each protocol. Each must give the client the same answer (status, body, the response flags, the fields the
/// policy sets) and the upstream the same request, since one pipeline decides for all of them.
/// </summary>
public sealed class PipelineParityTests
{
    /// <summary>One policy case: the routes (given the backend, a mirror backend, a closed port), the request path, and what must come out.</summary>
    public sealed record Case(
        string Name,
        Func<EndpointConfig, EndpointConfig, EndpointConfig, (RouteConfig[] Routes, ClusterConfig[] Clusters)> Build,
        string Path,
        int Status,
        string? Body = null,
        string? Flags = null,
        (string Name, string Value)[]? ResponseFields = null,
        string? UpstreamTarget = null,
        (string Name, string Value)[]? UpstreamFields = null,
        string? MirrorHost = null)
    {
        public override string ToString() => Name;
    }

    private static ClusterConfig Backend(EndpointConfig endpoint) => new("backend", [endpoint]);

    private static RouteConfig To(string name, RouteConfig? with = null) =>
        (with ?? new RouteConfig(name, [], [new WeightedClusterConfig("backend", 100)])) with { Name = name };

    public static TheoryData<Case, Engine> Cases()
    {
        Case[] cases =
        [
            new("no route", (b, _, _) => ([new RouteConfig("r", [new RouteMatchConfig(Uri: new(StringMatchKind.Exact, "/other"))], [new WeightedClusterConfig("backend", 1)])], [Backend(b)]),
                "/x", 404, "no route", "NR"),
            new("no endpoint", (_, _, _) => ([To("r")], [new ClusterConfig("backend", [])]), "/x", 503, "no healthy upstream", "UH"),
            new("connect failure", (_, _, closed) => ([To("r")], [Backend(closed)]), "/x", 503, "connection failure", "UF"),
            new("redirect", (b, _, _) => ([new RouteConfig("r", [], [], Redirect: new RedirectConfig(Uri: "/new", StatusCode: 302))], [Backend(b)]),
                "/old?q=1", 302, ResponseFields: [("Location", "http://{authority}/new?q=1")]),
            new("direct response", (b, _, _) => ([new RouteConfig("r", [], [], DirectResponse: new DirectResponseConfig(418, "short and stout"u8.ToArray()))], [Backend(b)]),
                "/x", 418, "short and stout"),
            new("fault abort", (b, _, _) => ([To("r", new RouteConfig("r", [], [new WeightedClusterConfig("backend", 1)], Fault: new FaultConfig(Abort: new FaultAbortConfig(HttpStatus: 429))))], [Backend(b)]),
                "/x", 429, "fault filter abort", "FI"),
            new("fault abort, gRPC", (b, _, _) => ([To("r", new RouteConfig("r", [], [new WeightedClusterConfig("backend", 1)], Fault: new FaultConfig(Abort: new FaultAbortConfig(GrpcStatus: 14))))], [Backend(b)]),
                "/x", 200, Flags: "FI", ResponseFields: [("grpc-status", "14"), ("Content-Type", "application/grpc")]),
            new("fault delay", (b, _, _) => ([To("r", new RouteConfig("r", [], [new WeightedClusterConfig("backend", 1)], Fault: new FaultConfig(Delay: new FaultDelayConfig(TimeSpan.FromMilliseconds(20)))))], [Backend(b)]),
                "/x", 200, "upstream", "DI"),
            new("fault at 0 %", (b, _, _) => ([To("r", new RouteConfig("r", [], [new WeightedClusterConfig("backend", 1)], Fault: new FaultConfig(Abort: new FaultAbortConfig(HttpStatus: 500, Percentage: 0))))], [Backend(b)]),
                "/x", 200, "upstream"),
            new("regex rewrite", (b, _, _) => ([To("r", new RouteConfig("r", [], [new WeightedClusterConfig("backend", 1)], Rewrite: new RewriteConfig(UriRegex: new RegexRewriteConfig("^/service/([^/]+)(/.*)$", "\\2/instance/\\1"))))], [Backend(b)]),
                "/service/foo/v1/api?x=1", 200, "upstream", UpstreamTarget: "/v1/api/instance/foo?x=1"),
            new("authority rewrite", (b, _, _) => ([To("r", new RouteConfig("r", [], [new WeightedClusterConfig("backend", 1)], Rewrite: new RewriteConfig(Authority: "internal.example")))], [Backend(b)]),
                "/x", 200, "upstream", UpstreamFields: [("host", "internal.example")]),
            new("destination header operations", (b, _, _) => ([To("r", new RouteConfig(
                    "r", [],
                    [new WeightedClusterConfig("backend", 1, new HeaderOperationsConfig(Set: new Dictionary<string, string> { ["x-dest"] = "d", ["x-both"] = "dest" }), new HeaderOperationsConfig(Add: new Dictionary<string, string> { ["x-dest-resp"] = "r" }))],
                    RequestHeaders: new HeaderOperationsConfig(Set: new Dictionary<string, string> { ["x-both"] = "route" })))], [Backend(b)]),
                "/x", 200, "upstream", ResponseFields: [("x-dest-resp", "r")], UpstreamFields: [("x-dest", "d"), ("x-both", "route")]),
            new("mirror", (b, m, _) => ([To("r", new RouteConfig("r", [], [new WeightedClusterConfig("backend", 1)], Mirrors: [new MirrorConfig("mirror")]))], [Backend(b), new ClusterConfig("mirror", [m])]),
                "/copied", 200, "upstream", MirrorHost: "{host}-shadow"),
            new("route timeout", (b, _, _) => ([To("r", new RouteConfig("r", [], [new WeightedClusterConfig("backend", 1)], Timeout: TimeSpan.FromMilliseconds(200)))], [Backend(b)]),
                "/slow", 504, "upstream request timeout", "UT"),
        ];

        var data = new TheoryData<Case, Engine>();
        foreach (var c in cases)
        {
            foreach (var engine in Enum.GetValues<Engine>())
            {
                data.Add(c, engine);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Policy_EveryEngine_SameAnswerAndUpstreamRequest(Case c, Engine engine)
    {
        var seen = new ConcurrentQueue<(string Target, IHeaderDictionary Headers)>();
        var mirrored = new ConcurrentQueue<string>();
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            seen.Enqueue((context.Features.Get<IHttpRequestFeature>()!.RawTarget, new HeaderDictionary(context.Request.Headers.ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase))));
            if (context.Request.Path.StartsWithSegments("/slow"))
            {
                await Task.Delay(TimeSpan.FromSeconds(5), context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            }

            await context.Response.WriteAsync("upstream");
        });
        await using var mirror = await TestBackend.StartAsync(context =>
        {
            mirrored.Enqueue(context.Request.Headers.Host.ToString());
            return context.Response.WriteAsync("mirror");
        });
        using var closed = Engines.ClosedPort();
        var (routes, clusters) = c.Build(backend.Endpoint, mirror.Endpoint, new EndpointConfig("127.0.0.1", closed.Port));
        await using var proxy = await Engines.StartAsync(engine, routes, clusters);
        using var request = Engines.Request(engine, HttpMethod.Get, c.Path);

        using var response = await proxy.Client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();

        var authority = $"127.0.0.1:{proxy.EndPoint.Port}";
        Assert.True(c.Status == (int)response.StatusCode, $"{c.Name} on {engine}: status {(int)response.StatusCode}, body {body}");
        if (c.Body is not null)
        {
            Assert.Contains(c.Body, body, StringComparison.Ordinal);
        }

        Assert.Equal(c.Flags, Field(response, "x-trellis-response-flags"));
        foreach (var (name, value) in c.ResponseFields ?? [])
        {
            Assert.Equal(value.Replace("{authority}", authority, StringComparison.Ordinal), Field(response, name));
        }

        if (c.UpstreamTarget is not null || c.UpstreamFields is not null)
        {
            var (target, headers) = Assert.Single(seen);
            if (c.UpstreamTarget is not null)
            {
                Assert.Equal(c.UpstreamTarget, target);
            }

            foreach (var (name, value) in c.UpstreamFields ?? [])
            {
                Assert.Equal(value, headers[name].ToString());
            }
        }

        if (c.MirrorHost is not null)
        {
            await Eventually.TrueAsync(() => !mirrored.IsEmpty, "the mirror got its copy");
            Assert.Equal(c.MirrorHost.Replace("{host}", "127.0.0.1", StringComparison.Ordinal) + $":{proxy.EndPoint.Port}", Assert.Single(mirrored));
        }
    }

    private static string? Field(HttpResponseMessage response, string name) => Engines.Field(response, name);
}
