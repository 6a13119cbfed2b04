using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Forwarding;

public sealed class Http1ForwardingTests
{
    /// <summary>Echoes what the upstream received: method, path, query and every header, one per line.</summary>
    private static Task Echo(HttpContext context)
    {
        var request = context.Request;
        var text = new StringBuilder();
        text.Append(request.Method).Append(' ').Append(request.Path).Append(request.QueryString).Append(' ').Append(request.Protocol).Append('\n');
        foreach (var (name, values) in request.Headers.OrderBy(h => h.Key, StringComparer.OrdinalIgnoreCase))
        {
            text.Append(name.ToLowerInvariant()).Append(": ").Append(values.ToString()).Append('\n');
        }

        return context.Response.WriteAsync(text.ToString());
    }

    private static Dictionary<string, string> ParseEcho(string body) =>
        body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(l => l.Split(": ", 2))
            .ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : string.Empty);

    [Fact]
    public async Task Forward_PlainGet_CopiesMethodPathQueryAndAddsForwardedHeaders()
    {
        await using var backend = await TestBackend.StartAsync(Echo);
        var ids = 0;
        var options = new ProxyServerOptions { RequestIdGenerator = () => $"generated-{++ids}" };
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint), options);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/reviews/0?x=1&y=%20z");
        request.Headers.Host = "reviews:9080";
        request.Headers.Add("X-Custom", "kept");
        using var response = await proxy.Client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        var headers = ParseEcho(body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("GET /reviews/0?x=1&y=%20z HTTP/1.1", body, StringComparison.Ordinal);
        Assert.Equal("reviews:9080", headers["host"]);
        Assert.Equal("kept", headers["x-custom"]);
        Assert.Equal("127.0.0.1", headers["x-forwarded-for"]);
        Assert.Equal("http", headers["x-forwarded-proto"]);
        Assert.Equal("reviews:9080", headers["x-forwarded-host"]);
        Assert.Equal("generated-1", headers["x-request-id"]);
        Assert.False(headers.ContainsKey("content-length"));
        Assert.False(headers.ContainsKey("transfer-encoding"));
    }

    [Fact]
    public async Task Forward_ExistingForwardedHeaders_AppendsClientAndKeepsTheRest()
    {
        await using var backend = await TestBackend.StartAsync(Echo);
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("X-Forwarded-For", "10.0.0.1");
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-Host", "public.example.com");
        request.Headers.Add("X-Request-Id", "abc-123");
        using var response = await proxy.Client.SendAsync(request);
        var headers = ParseEcho(await response.Content.ReadAsStringAsync());

        Assert.Equal("10.0.0.1, 127.0.0.1", headers["x-forwarded-for"]);
        Assert.Equal("https", headers["x-forwarded-proto"]);
        Assert.Equal("public.example.com", headers["x-forwarded-host"]);
        Assert.Equal("abc-123", headers["x-request-id"]);
    }

    [Fact]
    public async Task Forward_HopByHopHeaders_AreNotForwardedEitherWay()
    {
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            context.Response.Headers["X-Hop"] = "upstream-hop";
            context.Response.Headers.Connection = "X-Hop";
            context.Response.Headers["Keep-Alive"] = "timeout=5";
            context.Response.Headers["X-End"] = "upstream-end";
            await Echo(context);
        });
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));

        // HttpClient will not send custom Connection tokens, so this request is written by hand.
        // Only a custom token: Kestrel 10 rewrites a Connection value that also holds keep-alive or
        // close to just that token, so the names beside it never reach the proxy.
        var (responseHead, body) = await RawHttp.SendAsync(proxy.EndPoint.Port, """
            GET / HTTP/1.1
            Host: reviews
            Connection: X-Secret
            X-Secret: only-for-the-proxy
            Keep-Alive: timeout=5
            Proxy-Connection: keep-alive
            Proxy-Authorization: Basic Zm9vOmJhcg==
            TE: gzip
            Upgrade: h2c
            X-End: end-to-end


            """);
        var headers = ParseEcho(body);

        foreach (var hop in new[] { "x-secret", "keep-alive", "proxy-connection", "proxy-authorization", "te", "upgrade" })
        {
            Assert.False(headers.ContainsKey(hop), $"{hop} reached the upstream: {string.Join(" | ", headers)}");
        }

        Assert.Equal("end-to-end", headers["x-end"]);
        Assert.StartsWith("HTTP/1.1 200", responseHead, StringComparison.Ordinal);
        Assert.DoesNotContain("X-Hop", responseHead, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Keep-Alive", responseHead, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("X-End: upstream-end", responseHead, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forward_ChunkedRequestAndResponse_StreamsBothWithoutContentLength()
    {
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            var chunked = context.Request.Headers.TransferEncoding.ToString();
            var received = await new StreamReader(context.Request.Body).ReadToEndAsync();
            // Two flushed writes and no Content-Length: Kestrel answers chunked.
            await context.Response.WriteAsync($"{chunked}|");
            await context.Response.Body.FlushAsync();
            await context.Response.WriteAsync(received.ToUpperInvariant());
        });
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));

        using var request = new HttpRequestMessage(HttpMethod.Post, "/upload")
        {
            Content = new StreamContent(new UnknownLengthStream(Encoding.ASCII.GetBytes("hello chunked world"))),
        };
        request.Headers.TransferEncodingChunked = true;
        using var response = await proxy.Client.SendAsync(request);

        Assert.Equal("chunked|HELLO CHUNKED WORLD", await response.Content.ReadAsStringAsync());
        Assert.True(response.Headers.TransferEncodingChunked);
    }

    [Fact]
    public async Task Forward_PostWithContentLength_KeepsLengthAndContentHeaders()
    {
        await using var backend = await TestBackend.StartAsync(Echo);
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));

        using var response = await proxy.Client.PostAsync("/", new StringContent("{\"a\":1}", Encoding.UTF8, "application/json"));
        var headers = ParseEcho(await response.Content.ReadAsStringAsync());

        Assert.Equal("7", headers["content-length"]);
        Assert.Equal("application/json; charset=utf-8", headers["content-type"]);
        Assert.False(headers.ContainsKey("transfer-encoding"));
    }

    [Fact]
    public async Task Forward_StreamingResponse_ReachesClientBeforeUpstreamFinishes()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync("data: first\n\n");
            await context.Response.Body.FlushAsync();
            await release.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await context.Response.WriteAsync("data: second\n\n");
        });
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));

        using var response = await proxy.Client.GetAsync("/events", HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[64];
        var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal("data: first\n\n", Encoding.ASCII.GetString(buffer, 0, read));
        release.SetResult();
        Assert.Equal("data: second\n\n", await new StreamReader(stream).ReadToEndAsync());
    }

    /// <summary>A readable stream that cannot tell its length, so HttpClient must send it chunked.</summary>
    private sealed class UnknownLengthStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
