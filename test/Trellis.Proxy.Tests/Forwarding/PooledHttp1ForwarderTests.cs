using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Http1;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Forwarding;

/// <summary>
/// HTTP/2 clients to HTTP/1.1 upstreams over the fast path's pooled raw connections, through the
/// Kestrel path (the pooled forwarder) and the HTTP/2 fast path alike: framings Kestrel never
/// sends, trailers, streamed bodies, pooling, and parity with the SocketsHttpHandler path that
/// FastHttp1 = false keeps.
/// </summary>
public sealed class PooledHttp1ForwarderTests
{
    private static HttpClient H2cClient(Uri baseAddress) => new(new SocketsHttpHandler { UseProxy = false })
    {
        BaseAddress = baseAddress,
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    /// <summary>
    /// Each case runs on the Kestrel path (fastHttp2 false: Kestrel's HTTP/2, then the pooled
    /// forwarder) and on the HTTP/2 fast path (our own framing, then the same pooled connections).
    /// </summary>
    private static ProxyServerOptions Options(bool fastHttp2) => new() { FastHttp2 = fastHttp2 };

    private static ProxySnapshot Http2Listener(EndpointConfig endpoint) =>
        Snapshots.ToCluster("1", endpoint) with { Listeners = [Snapshots.Listener(protocols: HttpProtocols.Http2)] };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Forward_ChunkedResponseWithTrailers_BodyDecodedAndTrailersReachHttp2Client(bool fastHttp2)
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\ngrpc-status: 0\r\nX-Done: yes\r\n\r\n"));
        await using var proxy = await ProxyHarness.StartAsync(Http2Listener(backend.Endpoint), Options(fastHttp2));
        using var client = H2cClient(proxy.BaseAddress);

        using var response = await client.GetAsync("/stream");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hello world", await response.Content.ReadAsStringAsync());
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("0", response.TrailingHeaders.GetValues("grpc-status").Single());
        Assert.Equal("yes", response.TrailingHeaders.GetValues("x-done").Single());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Forward_CloseDelimitedResponse_WholeBodyAndConnectionNotReused(bool fastHttp2)
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", Close: true));
        await using var proxy = await ProxyHarness.StartAsync(Http2Listener(backend.Endpoint), Options(fastHttp2));
        using var client = H2cClient(proxy.BaseAddress);

        Assert.Equal("until the end", await client.GetStringAsync("/1"));
        Assert.Equal("until the end", await client.GetStringAsync("/2"));
        Assert.Equal(2, backend.Connections);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Forward_KeepAliveUpstream_OneConnectionServesSequentialRequests(bool fastHttp2)
    {
        await using var backend = RawUpstream.Start((_, i) => new RawAnswer($"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n{i}"));
        await using var proxy = await ProxyHarness.StartAsync(Http2Listener(backend.Endpoint), Options(fastHttp2));
        using var client = H2cClient(proxy.BaseAddress);

        Assert.Equal("0", await client.GetStringAsync("/a"));
        Assert.Equal("1", await client.GetStringAsync("/b"));
        Assert.Equal("2", await client.GetStringAsync("/c"));
        Assert.Equal(1, backend.Connections);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Forward_InterimResponses_DroppedFinalOneForwarded(bool fastHttp2)
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(
            "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Up: 1\r\n\r\nok"));
        await using var proxy = await ProxyHarness.StartAsync(Http2Listener(backend.Endpoint), Options(fastHttp2));
        using var client = H2cClient(proxy.BaseAddress);

        using var response = await client.GetAsync("/");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("1", response.Headers.GetValues("X-Up").Single());
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Forward_StalePooledConnection_RequestWithoutBodyRetriedOnANewConnection(bool fastHttp2)
    {
        // Answers one request per connection without saying so, then closes: the proxy pools a dead connection.
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Close: true));
        await using var proxy = await ProxyHarness.StartAsync(Http2Listener(backend.Endpoint), Options(fastHttp2));
        using var client = H2cClient(proxy.BaseAddress);

        Assert.Equal("ok", await client.GetStringAsync("/1"));
        await Eventually.TrueAsync(() => backend.Closed == 1, "the upstream closed the pooled connection"); // its FIN is on the pooled socket
        using var second = await client.GetAsync("/2");

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("ok", await second.Content.ReadAsStringAsync());
        Assert.Equal(2, backend.Connections);
        Assert.Equal(2, backend.Heads.Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Forward_Http2BodyWithoutContentLength_StreamsChunkedToTheUpstream(bool fastHttp2)
    {
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            using var reader = new StreamReader(c.Request.Body);
            var body = await reader.ReadToEndAsync();
            await c.Response.WriteAsync($"{c.Request.Headers.TransferEncoding} {c.Request.ContentLength?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} {body.Length} {body[..3]}{body[^3..]}");
        });
        await using var proxy = await ProxyHarness.StartAsync(Http2Listener(backend.Endpoint), Options(fastHttp2));
        using var client = H2cClient(proxy.BaseAddress);
        var payload = "abc" + new string('x', 200_000) + "xyz";
        using var content = new UnknownLengthContent(Encoding.ASCII.GetBytes(payload));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/upload") { Content = content, Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal($"chunked - {payload.Length} abcxyz", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Forward_Http2BodyWithContentLength_SentWithContentLength(bool fastHttp2)
    {
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            using var reader = new StreamReader(c.Request.Body);
            var body = await reader.ReadToEndAsync();
            await c.Response.WriteAsync($"{c.Request.ContentLength} {body}");
        });
        await using var proxy = await ProxyHarness.StartAsync(Http2Listener(backend.Endpoint), Options(fastHttp2));
        using var client = H2cClient(proxy.BaseAddress);

        using var response = await client.PostAsync("/", new StringContent("hello"));

        Assert.Equal("5 hello", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Forward_UpstreamDiesMidChunkedBody_Http2ClientSeesAReset(bool fastHttp2)
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", Close: true));
        await using var proxy = await ProxyHarness.StartAsync(Http2Listener(backend.Endpoint), Options(fastHttp2));
        using var client = H2cClient(proxy.BaseAddress);

        using var response = await client.GetAsync("/", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var error = await Record.ExceptionAsync(() => response.Content.ReadAsStringAsync());

        Assert.True(error is HttpRequestException or IOException, $"expected a transport error, got {error?.GetType().Name ?? "a complete body"}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Forward_MalformedResponseHead_Returns502(bool fastHttp2)
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer("HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n", Close: true));
        await using var proxy = await ProxyHarness.StartAsync(Http2Listener(backend.Endpoint), Options(fastHttp2));
        using var client = H2cClient(proxy.BaseAddress);

        using var response = await client.GetAsync("/");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
    }

    /// <summary>The same HTTP/2 request over the pooled connections and over SocketsHttpHandler: the upstream sees the same head, the client the same answer.</summary>
    [Fact]
    public async Task Forward_Http2RequestBothUpstreamPaths_UpstreamAndClientSeeTheSame()
    {
        var seen = new ConcurrentQueue<string>();
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            using var reader = new StreamReader(c.Request.Body);
            var body = await reader.ReadToEndAsync();
            // Field values as lists: HttpClient merges an added value into the client's line ("a, b"), the head writer
            // sends a line of its own (Kestrel joins it as "a,b"); both mean the same list (RFC 9110 5.3).
            var headers = c.Request.Headers.Select(h => $"{h.Key.ToLowerInvariant()}: {string.Join(",", h.Value.SelectMany(v => v!.Split(',')).Select(v => v.Trim()))}").Order(StringComparer.Ordinal);
            seen.Enqueue($"{c.Request.Method} {c.Features.Get<IHttpRequestFeature>()!.RawTarget}\n{string.Join("\n", headers)}\n\n{body}");
            c.Response.Headers["X-Up"] = "1";
            c.Response.Headers.Append("Set-Cookie", new[] { "a=1", "b=2" });
            await c.Response.WriteAsync("hi");
        });
        var operations = new HeaderOperationsConfig(
            Set: new Dictionary<string, string> { ["X-Set"] = "proxy" }, Add: new Dictionary<string, string> { ["X-Add"] = "proxy" }, Remove: ["X-Drop"]);
        var snapshot = Snapshots.With(
            "1",
            [new RouteConfig("r", [], [new WeightedClusterConfig("backend", 1)], RequestHeaders: operations, ResponseHeaders: operations)],
            new ClusterConfig("backend", [backend.Endpoint])) with
        { Listeners = [Snapshots.Listener(protocols: HttpProtocols.Http2)] };

        async Task<(string Upstream, string Client)> ExchangeAsync(bool fast, bool fastHttp2 = false)
        {
            var options = new ProxyServerOptions { FastHttp1 = fast, FastHttp2 = fastHttp2, RequestIdGenerator = () => "generated-id", Random = _ => 7 };
            await using var proxy = await ProxyHarness.StartAsync(snapshot, options);
            using var client = H2cClient(proxy.BaseAddress);
            using var request = new HttpRequestMessage(HttpMethod.Post, "/a%20b/c?x=1&y=%2F") { Content = new StringContent("body"), Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
            request.Headers.Host = "example.com"; // :authority, the same for both proxies
            request.Headers.TryAddWithoutValidation("Cookie", ["a=1", "b=2"]);
            request.Headers.TryAddWithoutValidation("X-Add", "client");
            request.Headers.TryAddWithoutValidation("X-Drop", "client");
            request.Headers.TryAddWithoutValidation("X-Multi", ["1", "2"]);
            request.Headers.TE.ParseAdd("trailers");
            seen.Clear();
            using var response = await client.SendAsync(request);
            var headers = response.Headers.Concat(response.Content.Headers)
                .Where(h => h.Key != "Date")
                .Select(h => $"{h.Key.ToLowerInvariant()}: {string.Join("|", h.Value)}").Order(StringComparer.Ordinal);
            var upstream = seen.TryDequeue(out var first) ? first : "(nothing)";
            Assert.Equal(HttpVersion.Version20, response.Version);
            return (upstream, $"{(int)response.StatusCode}\n{string.Join("\n", headers)}\n\n{await response.Content.ReadAsStringAsync()}");
        }

        var (pooledUpstream, pooledClient) = await ExchangeAsync(fast: true);
        var (handlerUpstream, handlerClient) = await ExchangeAsync(fast: false);
        var (framedUpstream, framedClient) = await ExchangeAsync(fast: true, fastHttp2: true);

        Assert.Equal(handlerUpstream, pooledUpstream);
        Assert.Equal(handlerClient, pooledClient);
        Assert.Equal(handlerUpstream, framedUpstream);
        Assert.Equal(handlerClient, framedClient);
    }

    /// <summary>A body whose length the client does not know: on HTTP/2, DATA frames without content-length.</summary>
    private sealed class UnknownLengthContent(byte[] bytes) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (var offset = 0; offset < bytes.Length; offset += 16 * 1024)
            {
                await stream.WriteAsync(bytes.AsMemory(offset, Math.Min(16 * 1024, bytes.Length - offset)));
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }
}
