using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Http1;

/// <summary>Exchanges on the fast HTTP/1.1 path through a real <see cref="ProxyServer"/>, read and written as exact bytes.</summary>
public sealed class FastPathTests
{
    private const string Ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    [Fact]
    public async Task Pipelining_ThreeGetsInOneWrite_AnsweredInOrder()
    {
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            // The first answer is the slowest: order must come from the connection, not from timing.
            if (c.Request.Path == "/1")
            {
                await Task.Delay(50);
            }

            await c.Response.WriteAsync("path " + c.Request.Path);
        });
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        await client.SendAsync("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n");

        foreach (var expected in new[] { "path /1", "path /2", "path /3" })
        {
            var response = await client.ReadResponseAsync();
            Assert.Equal(200, response.Status);
            Assert.Equal(expected, response.Body);
        }
    }

    [Fact]
    public async Task KeepAlive_SequentialRequests_ReuseOneUpstreamConnection()
    {
        var connections = new ConcurrentDictionary<string, byte>();
        await using var backend = await TestBackend.StartAsync(c =>
        {
            connections.TryAdd(c.Connection.Id, 0);
            return c.Response.WriteAsync("x");
        });
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var first = await RawClient.ConnectAsync(proxy.EndPoint.Port);
        for (var i = 0; i < 3; i++)
        {
            await first.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            Assert.Equal(200, (await first.ReadResponseAsync()).Status);
            await first.SendAsync("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc");
            Assert.Equal(200, (await first.ReadResponseAsync()).Status);
        }

        // Another client connection takes the same pooled connection once the first exchange has given it back
        // (which happens just after the client has the response).
        await Eventually.TrueAsync(() => proxy.Server.PooledConnections(backend.Endpoint.Port) == 1, "the upstream connection is back in the pool");
        using var second = await RawClient.ConnectAsync(proxy.EndPoint.Port);
        await second.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal(200, (await second.ReadResponseAsync()).Status);

        Assert.Single(connections);
    }

    [Fact]
    public async Task StalePooledConnection_UpstreamClosedIt_RequestRetriedOnANewConnection()
    {
        // Answers one request per connection, without saying so, then closes: the proxy pools a dead connection.
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(Ok, Close: true));
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        await client.SendAsync("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal("ok", (await client.ReadResponseAsync()).Body);
        await Eventually.TrueAsync(() => backend.Closed == 1, "the upstream closed the pooled connection"); // its FIN is on the pooled socket
        await client.SendAsync("GET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
        var second = await client.ReadResponseAsync();

        Assert.Equal(200, second.Status);
        Assert.Equal("ok", second.Body);
        Assert.Equal(2, backend.Connections);
        Assert.Equal(2, backend.Heads.Count);
    }

    [Fact]
    public async Task ChunkedUpstreamResponse_WithExtensionsAndTrailers_RelayedVerbatimAndConnectionReused()
    {
        const string chunks = "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Checksum: abc\r\n\r\n";
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n" + chunks));
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        for (var i = 0; i < 2; i++)
        {
            await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n");
            var response = await client.ReadResponseAsync();

            Assert.Equal("chunked", response.Header("Transfer-Encoding"));
            Assert.Null(response.Header("Trailer")); // hop-by-hop, as on the Kestrel path
            Assert.Equal(chunks, response.WireBody);
            Assert.Equal("hello, world", response.Body);
            Assert.Equal(["X-Checksum: abc"], response.Trailers);
        }

        Assert.Equal(1, backend.Connections);
        Assert.Contains("TE: trailers", backend.Heads.First(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CloseDelimitedUpstreamResponse_ReframedAsChunksAndClientConnectionKept()
    {
        var body = new string('z', 40_000);
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body, Close: true));
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        for (var i = 0; i < 2; i++)
        {
            await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            var response = await client.ReadResponseAsync();

            Assert.Equal(200, response.Status);
            Assert.Equal("chunked", response.Header("Transfer-Encoding"));
            Assert.Null(response.Header("Content-Length"));
            Assert.Null(response.Header("Connection"));
            Assert.Equal(body, response.Body);
        }

        Assert.Equal(2, backend.Connections);
    }

    [Theory]
    [InlineData("HEAD", "/", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 200)]
    [InlineData("HEAD", "/", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200)]
    [InlineData("GET", "/204", "HTTP/1.1 204 No Content\r\n\r\n", 204)]
    [InlineData("GET", "/304", "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n", 304)]
    [InlineData("GET", "/304", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 304)]
    [InlineData("GET", "/100", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 204)]
    public async Task BodylessResponse_NothingFollowsTheHeadAndConnectionsStayUsable(string method, string path, string answer, int status)
    {
        await using var backend = RawUpstream.Start((head, _) => new RawAnswer(head.StartsWith("GET /next", StringComparison.Ordinal) ? Ok : answer));
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        await client.SendAsync($"{method} {path} HTTP/1.1\r\nHost: a\r\n\r\n");
        var response = await client.ReadResponseAsync(bodyless: true);
        Assert.Equal(status, response.Status);
        Assert.Equal(0, await client.PendingBytesAsync(TimeSpan.FromMilliseconds(50)));

        await client.SendAsync("GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal("ok", (await client.ReadResponseAsync()).Body);
        Assert.Equal(1, backend.Connections);
    }

    [Fact]
    public async Task ClientConnectionClose_ResponseSaysCloseAndSocketCloses()
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(Ok));
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        var response = await client.ReadResponseAsync();

        Assert.Equal("ok", response.Body);
        Assert.Equal("close", response.Header("Connection"));
        Assert.True(await client.ClosedAsync());
        Assert.DoesNotContain("Connection", backend.Heads.Single(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task HandoffMidConnection_ChunkedRequestAfterAFastGet_ServedByKestrel()
    {
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            using var reader = new StreamReader(c.Request.Body);
            await c.Response.WriteAsync($"{c.Request.Method} {c.Request.Path} [{await reader.ReadToEndAsync()}]");
        });
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        await client.SendAsync("GET /fast HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal("GET /fast []", (await client.ReadResponseAsync()).Body);
        // The chunked request and a pipelined GET behind it, in one write: Kestrel gets both.
        await client.SendAsync("POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n");

        Assert.Equal("POST /chunked [abcde]", (await client.ReadResponseAsync()).Body);
        Assert.Equal("GET /after []", (await client.ReadResponseAsync()).Body);
    }

    [Fact]
    public async Task HandoffMidConnection_WebSocketUpgradeAfterAFastGet_Switches()
    {
        await using var backend = await TestBackend.StartAsync(
            async c =>
            {
                if (!c.WebSockets.IsWebSocketRequest)
                {
                    await c.Response.WriteAsync("plain");
                    return;
                }

                using var socket = await c.WebSockets.AcceptWebSocketAsync();
                var buffer = new byte[64];
                var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
                await socket.SendAsync(buffer.AsMemory(0, received.Count), System.Net.WebSockets.WebSocketMessageType.Text, true, CancellationToken.None);
                await socket.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
            },
            webSockets: true);
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal("plain", (await client.ReadResponseAsync()).Body);
        await client.SendAsync("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
        var switched = await client.ReadResponseAsync(bodyless: true);

        Assert.Equal(101, switched.Status);
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", switched.Header("Sec-WebSocket-Accept"));
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nX: y\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")]
    // No body bytes after a rejected head: Kestrel closes without reading them, and unread bytes turn its close into a reset that can discard the 400.
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n")]
    public async Task MalformedRequest_AfterAFastGet_GetsKestrels400(string request)
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(Ok));
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);
        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal("ok", (await client.ReadResponseAsync()).Body);

        await client.SendAsync(request);
        var response = await client.ReadResponseAsync();

        Assert.Equal("HTTP/1.1 400 Bad Request", response.StatusLine);
        Assert.True(await client.ClosedAsync());
        Assert.Single(backend.Heads);
    }

    [Fact]
    public async Task ConnectionNamingContentLength_BodyNeverReachesTheUpstreamAsARequest()
    {
        // A client that lists Content-Length as hop-by-hop: dropping that field and still sending the
        // body would make the body the upstream's next request on a pooled connection.
        var paths = new ConcurrentQueue<string>();
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            paths.Enqueue(c.Request.Method + " " + c.Request.Path);
            using var reader = new StreamReader(c.Request.Body);
            await c.Response.WriteAsync("body [" + await reader.ReadToEndAsync() + "]");
        });
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);
        const string smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";

        await client.SendAsync($"POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length\r\nContent-Length: {smuggled.Length}\r\n\r\n{smuggled}");
        var response = await client.ReadResponseAsync();
        using var other = await RawClient.ConnectAsync(proxy.EndPoint.Port);
        await other.SendAsync("GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
        var next = await other.ReadResponseAsync();

        Assert.Equal("body [" + smuggled + "]", response.Body);
        Assert.Equal("body []", next.Body);
        Assert.Equal(["POST /", "GET /next"], paths.ToArray());
    }

    [Fact]
    public async Task UpstreamConnectionNamingContentLength_ClientStillGetsAFramedBody()
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer("HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello"));
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        var response = await client.ReadResponseAsync().WaitAsync(TimeSpan.FromSeconds(3));

        Assert.True(response.Header("Content-Length") == "5" || response.Header("Transfer-Encoding") == "chunked", "the body has no framing");
        Assert.Equal("hello", response.Body);
    }

    /// <summary>The client watch (a zero-byte read after 200 ms) runs beside the body reads here: it must not take a slow client for a gone one.</summary>
    [Fact]
    public async Task SlowRequestBody_ArrivingInPieces_IsForwardedWhole()
    {
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            using var reader = new StreamReader(c.Request.Body);
            await c.Response.WriteAsync("[" + await reader.ReadToEndAsync() + "]");
        });
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        await client.SendAsync("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nabc");
        await Task.Delay(400);
        await client.SendAsync("def");
        await Task.Delay(400);
        await client.SendAsync("ghi");
        var response = await client.ReadResponseAsync();

        Assert.Equal(200, response.Status);
        Assert.Equal("[abcdefghi]", response.Body);
    }

    /// <summary>
    /// Both ends of the 130 s bound, for an idle connection and for a head that never ends (slowloris):
    /// of two connections in the same state, one shows it is still served at 130 s of the proxy's
    /// clock and the other that it is closed at 131 s. The clock stands still while the test reads.
    /// </summary>
    [Fact]
    public async Task KeepAliveTimeout_IdleAndHalfSentHeads_OpenAt130SecondsClosedAt131()
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(Ok));
        var time = new ManualTimeProvider();
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint), time: time);
        using var idle = await RawClient.ConnectAsync(proxy.EndPoint.Port);
        using var idleToo = await RawClient.ConnectAsync(proxy.EndPoint.Port);
        using var slow = await RawClient.ConnectAsync(proxy.EndPoint.Port);
        using var slowToo = await RawClient.ConnectAsync(proxy.EndPoint.Port);
        foreach (var client in new[] { idle, idleToo, slow, slowToo })
        {
            // Answered at 0 s: each connection is in the proxy's hands, waiting for its next head since then.
            await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            Assert.Equal("ok", (await client.ReadResponseAsync()).Body);
        }

        await slow.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n"); // heads that do not end (slowloris)
        await slowToo.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n");
        time.Advance(TimeSpan.FromSeconds(120)); // the listener sweeps once a second of the proxy's clock
        foreach (var client in new[] { idle, idleToo })
        {
            await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            Assert.Equal("ok", (await client.ReadResponseAsync()).Body); // a request restarts the keep-alive clock
        }

        Sweeps(time, 10); // 130 s
        await slow.SendAsync("\r\n");
        Assert.Equal("ok", (await slow.ReadResponseAsync()).Body);
        Sweeps(time, 1); // 131 s
        Assert.True(await slowToo.ClosedAsync(), "a head awaited for 131 s is still awaited");

        Sweeps(time, 119); // 250 s: 130 s after the idle connections' last answers
        await idle.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal("ok", (await idle.ReadResponseAsync()).Body);
        Sweeps(time, 1); // 251 s
        Assert.True(await idleToo.ClosedAsync(), "a connection idle for 131 s is still open");
    }

    /// <summary>One listener sweep per second of the proxy's clock; each runs on this thread.</summary>
    private static void Sweeps(ManualTimeProvider time, int seconds)
    {
        for (var i = 0; i < seconds; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
        }
    }

    [Fact]
    public async Task RouteTimeout_UpstreamNeverAnswers_Returns504WithTheKestrelPathBody()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = RawUpstream.Start((head, _) =>
        {
            if (head.StartsWith("GET /next", StringComparison.Ordinal))
            {
                return new RawAnswer(Ok);
            }

            arrived.TrySetResult();
            return new RawAnswer(string.Empty); // says nothing, keeps the connection open
        });
        var time = new ManualTimeProvider();
        var snapshot = Snapshots.With("1", [new RouteConfig("slow", [], [new WeightedClusterConfig("backend", 1)], Timeout: TimeSpan.FromSeconds(3))],
            new ClusterConfig("backend", [backend.Endpoint]));
        await using var proxy = await ProxyHarness.StartAsync(snapshot, time: time);
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(3));
        var response = await client.ReadResponseAsync();

        Assert.Equal(504, response.Status);
        Assert.Equal("text/plain", response.Header("Content-Type"));
        Assert.Equal("upstream request timeout", response.Body);
        // The request was all in hand, so the client connection goes on.
        await client.SendAsync("GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal("ok", (await client.ReadResponseAsync()).Body);
    }

    [Fact]
    public async Task UpstreamConnectFailure_Returns503WithTheKestrelPathBody()
    {
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", new EndpointConfig("127.0.0.1", port)));
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        var response = await client.ReadResponseAsync();

        Assert.Equal(503, response.Status);
        Assert.Equal("upstream connect error or disconnect/reset before headers. reset reason: connection failure", response.Body);
        Assert.Null(response.Header("Connection"));
    }

    [Fact]
    public async Task UpstreamMalformedResponse_Returns502AndTheBadConnectionIsNotReused()
    {
        await using var backend = RawUpstream.Start((head, _) => new RawAnswer(
            head.StartsWith("GET /bad", StringComparison.Ordinal) ? "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab" : Ok));
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        await client.SendAsync("GET /bad HTTP/1.1\r\nHost: a\r\n\r\n");
        var bad = await client.ReadResponseAsync();
        await client.SendAsync("GET /good HTTP/1.1\r\nHost: a\r\n\r\n");
        var good = await client.ReadResponseAsync();

        Assert.Equal(502, bad.Status);
        Assert.Equal("ok", good.Body);
        Assert.Equal(2, backend.Connections);
    }

    [Fact]
    public async Task ListenerRemoved_IdleKeepAliveConnection_IsClosed()
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(Ok));
        var snapshot = Snapshots.ToCluster("1", backend.Endpoint);
        await using var proxy = await ProxyHarness.StartAsync(snapshot);
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);
        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal("ok", (await client.ReadResponseAsync()).Body);

        Assert.True((await proxy.Server.ApplyAsync(snapshot with { Version = "2", Listeners = [] })).Accepted);

        Assert.True(await client.ClosedAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task ServerDisposed_RequestInFlight_FinishesWithConnectionCloseThenCloses()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            arrived.TrySetResult();
            await release.Task;
            await c.Response.WriteAsync("finished");
        });
        var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);
        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var disposing = proxy.DisposeAsync().AsTask();
        await Task.Delay(100);
        Assert.False(disposing.IsCompleted); // draining: it waits for the exchange
        release.SetResult();
        var response = await client.ReadResponseAsync();

        Assert.Equal("finished", response.Body);
        Assert.Equal("close", response.Header("Connection"));
        Assert.True(await client.ClosedAsync());
        await disposing.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
