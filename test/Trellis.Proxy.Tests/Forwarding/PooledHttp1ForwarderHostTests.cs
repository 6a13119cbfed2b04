using System.Net;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Http1;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Forwarding;

/// <summary>
/// The Host an HTTP/1.1 upstream gets from the pooled forwarder (Kestrel path) and the fast path when
/// a route's header operations name Host. HTTP/1.1 requires one (RFC 9112 §3.2), so a route cannot
/// remove it; Envoy refuses Host in header operations altogether, and the authority rewrite is the
/// way to change it.
/// </summary>
public sealed class PooledHttp1ForwarderHostTests
{
    private const string Ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    [Theory]
    [InlineData("remove", null, "Host: example.com")]
    [InlineData("remove, with an authority rewrite", "rewritten.internal", "Host: rewritten.internal")]
    [InlineData("remove, in another case", null, "Host: example.com")]
    public async Task Forward_RouteRemovesHost_BothPathsStillSendOneHost(string what, string? rewrite, string expected)
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(Ok));
        var remove = what.Contains("case", StringComparison.Ordinal) ? "HOST" : "host";
        var snapshot = RouteSnapshot(backend.Endpoint, new HeaderOperationsConfig(Remove: [remove]), rewrite);

        var pooled = await PooledHostLinesAsync(snapshot, backend);
        var fast = await FastHostLinesAsync(snapshot, backend);

        Assert.Equal([expected], pooled);
        Assert.Equal([expected], fast);
    }

    [Fact]
    public async Task Forward_RouteSetsHost_BothPathsSendTheSetValueOnce()
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(Ok));
        var snapshot = RouteSnapshot(backend.Endpoint, new HeaderOperationsConfig(Set: new Dictionary<string, string> { ["Host"] = "set.internal" }), null);

        Assert.Equal(["Host: set.internal"], await PooledHostLinesAsync(snapshot, backend));
        Assert.Equal(["Host: set.internal"], await FastHostLinesAsync(snapshot, backend));
    }

    private static ProxySnapshot RouteSnapshot(EndpointConfig endpoint, HeaderOperationsConfig operations, string? rewrite) =>
        Snapshots.With(
            "1",
            [new RouteConfig("r", [], [new WeightedClusterConfig("backend", 1)], Rewrite: rewrite is null ? null : new RewriteConfig(Authority: rewrite), RequestHeaders: operations)],
            new ClusterConfig("backend", [endpoint])) with
        { Listeners = [Snapshots.Listener(protocols: HttpProtocols.Http1AndHttp2)] };

    /// <summary>An HTTP/2 client on the Kestrel path (an <c>Http2</c> listener), so the pooled forwarder writes the head.</summary>
    private static async Task<string[]> PooledHostLinesAsync(ProxySnapshot snapshot, RawUpstream backend)
    {
        await using var proxy = await ProxyHarness.StartAsync(snapshot with { Listeners = [Snapshots.Listener(protocols: HttpProtocols.Http2)] }, new ProxyServerOptions { FastHttp2 = false });
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = proxy.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        request.Headers.Host = "example.com";
        backend.Heads.Clear();

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return HostLines(backend);
    }

    /// <summary>An HTTP/1.1 client on the fast path.</summary>
    private static async Task<string[]> FastHostLinesAsync(ProxySnapshot snapshot, RawUpstream backend)
    {
        await using var proxy = await ProxyHarness.StartAsync(snapshot);
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);
        backend.Heads.Clear();

        await client.SendAsync("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
        var response = await client.ReadResponseAsync();

        Assert.Equal(200, response.Status);
        return HostLines(backend);
    }

    private static string[] HostLines(RawUpstream backend) =>
        [.. backend.Heads.Single().Split("\r\n").Where(l => l.StartsWith("Host:", StringComparison.OrdinalIgnoreCase))];
}
