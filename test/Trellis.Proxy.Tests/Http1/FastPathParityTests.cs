using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Http1;

/// <summary>
/// The same raw request through a proxy with the fast path and one without: the upstream must see
/// the same request and the client the same response (apart from Date and header order).
/// </summary>
public sealed class FastPathParityTests
{
    private static readonly HeaderOperationsConfig RequestOperations = new(
        Set: new Dictionary<string, string> { ["X-Set"] = "proxy" },
        Add: new Dictionary<string, string> { ["X-Add"] = "proxy" },
        Remove: ["X-Drop"]);

    private static readonly HeaderOperationsConfig ResponseOperations = new(
        Set: new Dictionary<string, string> { ["X-Resp-Set"] = "proxy" },
        Add: new Dictionary<string, string> { ["X-Up"] = "added" },
        Remove: ["X-Remove-Me"]);

    [Theory]
    [InlineData("plain GET", "GET /a/b?x=1&y=%2F HTTP/1.1\r\nHost: example.com\r\nUser-Agent: raw\r\nAccept: */*\r\n\r\n")]
    [InlineData("Host with a port, lower-case names", "GET / HTTP/1.1\r\nhost: example.com:8080\r\naccept: text/plain\r\n\r\n")]
    [InlineData("forwarding headers already set", "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2, 10.0.0.3\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: outer\r\nX-Request-Id: client-id\r\n\r\n")]
    // Only a custom Connection token: Kestrel 10 rewrites "keep-alive, X-Hop" to "keep-alive", so the Kestrel path forwards X-Hop then.
    [InlineData("hop-by-hop fields", "GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\nTE: trailers, deflate\r\nTrailer: X-T\r\n\r\n")]
    [InlineData("route header operations", "GET / HTTP/1.1\r\nHost: a\r\nX-Add: client\r\nX-Drop: x\r\nX-Set: client\r\nx-add: second\r\n\r\n")]
    [InlineData("POST with a body", "POST /submit HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"a\":\"hello\"}")]
    [InlineData("HEAD", "HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("repeated and empty fields", "GET / HTTP/1.1\r\nHost: a\r\nX-Multi: a\r\nX-Multi: b\r\nX-Empty:\r\n\r\n")]
    [InlineData(
        "two Cookie fields",
        "GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n")]
    [InlineData("sub-delims in the path", "GET /p/a:b@c!$&'()*+,;=~ HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("odd bytes in the query", "GET /q?a=<b>&c=\"d\"&e={f}|g^`h\\i HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("escapes and sub-delims in the query", "GET /q?a=%2f%3D%20%C3%A9&b='!$*+,;:@/?c HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("escaped unreserved bytes in the query", "GET /q?a=%41%7e HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("a stray '%' in the query", "GET /q?a=%zz&b=100% HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("brackets in the query", "GET /q?a[0]=1 HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n")]
    public async Task Forward_SameRequestBothPaths_UpstreamAndClientSeeTheSame(string what, string request)
    {
        var seen = new ConcurrentQueue<string>();
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            using var reader = new StreamReader(c.Request.Body);
            var body = await reader.ReadToEndAsync();
            var headers = c.Request.Headers.Select(h => $"{h.Key.ToLowerInvariant()}: {Normalize(h.Value.ToString())}").Order(StringComparer.Ordinal);
            seen.Enqueue($"{c.Request.Method} {c.Features.Get<IHttpRequestFeature>()!.RawTarget}\n{string.Join("\n", headers)}\n\n{body}");
            c.Response.Headers["X-Up"] = "1";
            c.Response.Headers["X-Remove-Me"] = "gone";
            c.Response.Headers.CacheControl = "no-cache";
            c.Response.ContentLength = 2;
            if (!HttpMethods.IsHead(c.Request.Method))
            {
                await c.Response.WriteAsync("hi");
            }
        });
        var snapshot = Snapshots.With(
            "1",
            [new RouteConfig("r", [], [new WeightedClusterConfig("backend", 1)], RequestHeaders: RequestOperations, ResponseHeaders: ResponseOperations)],
            new ClusterConfig("backend", [backend.Endpoint]));

        var (fastUpstream, fastClient) = await ExchangeAsync(snapshot, fast: true, request, seen);
        var (kestrelUpstream, kestrelClient) = await ExchangeAsync(snapshot, fast: false, request, seen);

        Assert.True(kestrelUpstream == fastUpstream, $"{what}: upstream saw\n--- Kestrel path:\n{kestrelUpstream}\n--- fast path:\n{fastUpstream}");
        Assert.True(kestrelClient == fastClient, $"{what}: client saw\n--- Kestrel path:\n{kestrelClient}\n--- fast path:\n{fastClient}");
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: a b\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a:x\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n")]
    [InlineData("GET / HTTP/1.0\r\n\r\n")]
    [InlineData("GET /a/../b HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET /%7Euser HTTP/1.1\r\nHost: a\r\n\r\n")]
    public async Task Forward_RequestTheFastPathLeavesToKestrel_SameStatusBothPaths(string request)
    {
        var seen = new ConcurrentQueue<string>();
        await using var backend = await TestBackend.StartAsync(c =>
        {
            seen.Enqueue($"{c.Request.Method} {c.Features.Get<IHttpRequestFeature>()!.RawTarget} {c.Request.Headers.Host}");
            return c.Response.WriteAsync("x");
        });
        var snapshot = Snapshots.ToCluster("1", backend.Endpoint);

        var (fastUpstream, fastClient) = await ExchangeAsync(snapshot, fast: true, request, seen);
        var (kestrelUpstream, kestrelClient) = await ExchangeAsync(snapshot, fast: false, request, seen);

        Assert.Equal(kestrelClient.Split('\n')[0], fastClient.Split('\n')[0]);
        Assert.Equal(kestrelUpstream, fastUpstream);
    }

    private static async Task<(string Upstream, string Client)> ExchangeAsync(ProxySnapshot snapshot, bool fast, string request, ConcurrentQueue<string> seen)
    {
        // Fixed ids (request id; trace and span ids from Random), so both paths send the same head.
        var options = new ProxyServerOptions { FastHttp1 = fast, RequestIdGenerator = () => "generated-id", Random = _ => 7 };
        await using var proxy = await ProxyHarness.StartAsync(snapshot, options);
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);
        seen.Clear();

        await client.SendAsync(request);
        var response = await client.ReadResponseAsync(bodyless: request.StartsWith("HEAD", StringComparison.Ordinal));

        var headers = response.Headers
            .Where(h => !h.Name.Equals("Date", StringComparison.OrdinalIgnoreCase))
            .Select(h => $"{h.Name.ToLowerInvariant()}: {h.Value}")
            .Order(StringComparer.Ordinal);
        var upstream = seen.TryDequeue(out var first) ? first : "(nothing)";
        return (upstream, $"{response.StatusLine}\n{string.Join("\n", headers)}\n\n{response.Body}");
    }

    /// <summary>A list value as items: "a, b" and "a,b" are the same field to HTTP, and the two paths join repeated fields differently.</summary>
    private static string Normalize(string value) => string.Join(",", value.Split(',').Select(v => v.Trim()));
}
