using System.Net;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;
using KestrelProtocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols;

namespace Trellis.Proxy.Tests.Forwarding;

public sealed class Http2Tests
{
    private static HttpClient H2cClient(Uri baseAddress) => new(new SocketsHttpHandler { UseProxy = false })
    {
        BaseAddress = baseAddress,
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    private static ProxySnapshot Http2Listener(ProxySnapshot snapshot) =>
        snapshot with { Listeners = [Snapshots.Listener(protocols: HttpProtocols.Http2)] };

    [Fact]
    public async Task Forward_H2cPriorKnowledgeOnHttp2Listener_IsServedOverHttp2()
    {
        await using var backend = await TestBackend.StartAsync(c => c.Response.WriteAsync(c.Request.Protocol));
        var snapshot = Http2Listener(Snapshots.ToCluster("1", backend.Endpoint));
        await using var proxy = await ProxyHarness.StartAsync(snapshot);
        using var client = H2cClient(proxy.BaseAddress);

        using var response = await client.GetAsync("/");

        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("HTTP/1.1", await response.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// Kestrel 10 picks HTTP/1.1 for a cleartext Http1AndHttp2 endpoint (no ALPN to choose with) and
    /// answers an h2c preface with GOAWAY HTTP_1_1_REQUIRED; the fast path recognises the preface and
    /// serves the connection as HTTP/2, so one mesh listener serves both. When Kestrel gains preface
    /// detection the Kestrel half of this test fails and the listener docs should change.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Forward_H2cPriorKnowledgeOnHttp1AndHttp2Listener_ServedByTheFastPathOnly(bool fastHttp2)
    {
        await using var backend = await TestBackend.StartNamedAsync("ok");
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint), new ProxyServerOptions { FastHttp2 = fastHttp2 });
        using var client = H2cClient(proxy.BaseAddress);

        if (!fastHttp2)
        {
            // GOAWAY HTTP_1_1_REQUIRED, or a failed handshake, depending on which the client notices first.
            await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("/"));
            return;
        }

        using var h2 = await client.GetAsync("/");
        using var h1 = await proxy.Client.GetAsync("/");

        Assert.Equal(HttpVersion.Version20, h2.Version);
        Assert.Equal("ok", await h2.Content.ReadAsStringAsync());
        Assert.Equal(HttpVersion.Version11, h1.Version);
        Assert.Equal("ok", await h1.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Forward_Http1AndHttp2Listener_ServesHttp11()
    {
        await using var backend = await TestBackend.StartNamedAsync("ok");
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));

        using var response = await proxy.Client.GetAsync("/");

        Assert.Equal(HttpVersion.Version11, response.Version);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Forward_ManyConcurrentStreamsOnOneConnection_AllSucceed()
    {
        var concurrent = 0;
        var maxConcurrent = 0;
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            var now = Interlocked.Increment(ref concurrent);
            InterlockedMax(ref maxConcurrent, now);
            await Task.Delay(50);
            Interlocked.Decrement(ref concurrent);
            await c.Response.WriteAsync(c.Request.Path.Value!);
        });
        await using var proxy = await ProxyHarness.StartAsync(Http2Listener(Snapshots.ToCluster("1", backend.Endpoint)));
        // One connection only: every request must be a stream multiplexed on it.
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, EnableMultipleHttp2Connections = false, MaxConnectionsPerServer = 1 })
        {
            BaseAddress = proxy.BaseAddress,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        var responses = await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            using var response = await client.GetAsync($"/stream/{i}");
            return (response.Version, Body: await response.Content.ReadAsStringAsync());
        }));

        Assert.All(responses, r => Assert.Equal(HttpVersion.Version20, r.Version));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"/stream/{i}"), responses.Select(r => r.Body));
        // The streams really ran at the same time, not one after another.
        Assert.True(maxConcurrent > 10, $"max concurrent upstream requests was {maxConcurrent}");
    }

    [Fact]
    public async Task Forward_Http2UpstreamWithTrailers_TrailersReachHttp2Client()
    {
        await using var backend = await TestBackend.StartAsync(
            async c =>
            {
                c.Response.ContentType = "application/grpc";
                await c.Response.WriteAsync($"upstream saw {c.Request.Protocol} te={c.Request.Headers.TE}");
                c.Response.AppendTrailer("grpc-status", "0");
                c.Response.AppendTrailer("grpc-message", "fine");
            },
            KestrelProtocols.Http2);
        var snapshot = Http2Listener(Snapshots.ToCluster("1", UpstreamProtocol.Http2, backend.Endpoint));
        await using var proxy = await ProxyHarness.StartAsync(snapshot);
        using var client = H2cClient(proxy.BaseAddress);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/pkg.Service/Method")
        {
            Content = new ByteArrayContent([0, 0, 0, 0, 0]),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.TE.ParseAdd("trailers");

        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal("upstream saw HTTP/2 te=trailers", body);
        Assert.Equal("0", response.TrailingHeaders.GetValues("grpc-status").Single());
        Assert.Equal("fine", response.TrailingHeaders.GetValues("grpc-message").Single());
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
