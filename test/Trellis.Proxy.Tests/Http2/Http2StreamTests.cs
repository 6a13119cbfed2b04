using System.Net;
using System.Net.Sockets;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Http2;
using Trellis.Proxy.Tests.Http1;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Http2;

/// <summary>Streams on the HTTP/2 fast path (RFC 9113 §5, §8): malformed requests, the concurrency limit, resets, trailers, GOAWAY.</summary>
public sealed class Http2StreamTests
{
    public static TheoryData<string, string[]> MalformedRequests => new()
    {
        { "upper-case name", [":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/", "X-Up", "1"] },
        { "connection", [":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/", "connection", "keep-alive"] },
        { "transfer-encoding", [":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/", "transfer-encoding", "chunked"] },
        { "upgrade", [":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/", "upgrade", "h2c"] },
        { "keep-alive", [":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/", "keep-alive", "5"] },
        { "pseudo after regular", [":method", "GET", ":scheme", "http", ":path", "/", "x", "1", ":authority", "a"] },
        { "missing :path", [":method", "GET", ":scheme", "http", ":authority", "a"] },
        { "empty :path", [":method", "GET", ":scheme", "http", ":authority", "a", ":path", ""] },
        { "missing :method", [":scheme", "http", ":authority", "a", ":path", "/"] },
        { "missing :scheme", [":method", "GET", ":authority", "a", ":path", "/"] },
        { ":path twice", [":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/", ":path", "/b"] },
        { "response pseudo", [":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/", ":status", "200"] },
        { "te: gzip", [":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/", "te", "gzip"] },
        { "value with LF", [":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/", "x", "a\nb"] },
        { "value with leading space", [":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/", "x", " a"] },
        { "content-length without DATA", [":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/", "content-length", "5"] },
        { "content-length twice", [":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/", "content-length", "0", "content-length", "0"] },
    };

    [Theory]
    [MemberData(nameof(MalformedRequests))]
    public async Task MalformedRequest_RstStreamProtocolError_AndTheConnectionGoesOn(string what, string[] fields)
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(H2Setup.Ok));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();

        await client.SendHeadersAsync(1, Pairs(fields));
        var bad = await client.ReadResponseAsync(1);
        await client.SendHeadersAsync(3, H2Client.Request("/good"));
        var good = await client.ReadResponseAsync(3);

        Assert.True(bad.Reset == Http2Error.ProtocolError, $"{what}: {bad.Reset}, status {bad.Header(":status")}");
        Assert.Equal("ok", good.BodyText);
        Assert.Single(backend.Heads); // only the good request reached the upstream
    }

    [Theory]
    [InlineData("abc")] // fewer bytes than declared
    [InlineData("abcdefg")] // more
    public async Task ContentLength_DataDisagrees_RstStreamProtocolError_AndTheConnectionGoesOn(string data)
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(H2Setup.Ok));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();

        await client.SendHeadersAsync(1, H2Client.Request("/post", "POST", ("content-length", "5")), endStream: false);
        await client.SendDataAsync(1, System.Text.Encoding.ASCII.GetBytes(data));
        var bad = await client.ReadUntilAsync(f => f.StreamId == 1 && f.Type == FrameType.RstStream);
        await client.SendHeadersAsync(3, H2Client.Request("/good"));
        var good = await client.ReadResponseAsync(3);

        Assert.Equal(Http2Error.ProtocolError, bad!.ErrorCode);
        Assert.Equal("ok", good.BodyText);
    }

    [Fact]
    public async Task ConcurrencyLimit_OneStreamTooMany_IsRefused_AndTheOthersFinish()
    {
        var arrived = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            while (await c.ReadHeadAsync() is not null)
            {
                Interlocked.Increment(ref arrived);
                await release.Task;
                await c.SendAsync(H2Setup.Ok);
            }
        });
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint, new ProxyServerOptions { MaxHttp2StreamsPerConnection = 2 });
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();

        await client.SendHeadersAsync(1, H2Client.Request("/1"));
        await client.SendHeadersAsync(3, H2Client.Request("/3"));
        await Eventually.TrueAsync(() => Volatile.Read(ref arrived) == 2, "both streams reach the upstream");
        await client.SendHeadersAsync(5, H2Client.Request("/5"));
        var refused = await client.ReadResponseAsync(5);
        release.SetResult();
        var first = await client.ReadResponseAsync(1);
        var second = await client.ReadResponseAsync(3);
        await client.SendHeadersAsync(7, H2Client.Request("/7")); // the table has room again
        var third = await client.ReadResponseAsync(7);

        Assert.Equal(Http2Error.RefusedStream, refused.Reset);
        Assert.Equal(["ok", "ok", "ok"], new[] { first.BodyText, second.BodyText, third.BodyText });
        Assert.Equal(3, Volatile.Read(ref arrived));
    }

    /// <summary>
    /// A client may have sent more of a stream before it learns the proxy reset it: those frames are
    /// ignored (RFC 9113 §5.1), trailers included, and the connection's other streams go on.
    /// </summary>
    [Fact]
    public async Task RefusedStream_TrailersAlreadyOnTheirWay_AreIgnored_AndTheConnectionGoesOn()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            await c.ReadHeadAsync();
            arrived.TrySetResult();
            await release.Task;
            await c.SendAsync(H2Setup.Ok);
        });
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint, new ProxyServerOptions { MaxHttp2StreamsPerConnection = 1 });
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();
        await client.SendHeadersAsync(1, H2Client.Request("/slow"));
        await arrived.Task.WaitAsync(H2Client.Wait);

        await client.SendHeadersAsync(3, H2Client.Request("/upload", "POST"), endStream: false);
        await client.SendDataAsync(3, "abc"u8.ToArray(), endStream: false);
        await client.SendHeadersAsync(3, [("x-checksum", "1")], endStream: true);
        await client.SendFrameAsync(FrameType.Ping, 0, 0, new byte[8]);
        var refused = await client.ReadUntilAsync(f => f.StreamId == 3);
        var next = await client.ReadUntilAsync(f => f.Type is FrameType.Ping or FrameType.GoAway);
        release.SetResult();

        Assert.Equal((FrameType.RstStream, Http2Error.RefusedStream), (refused!.Type, refused.ErrorCode));
        Assert.True(next!.Type == FrameType.Ping, $"{next}: {(next.Type == FrameType.GoAway ? next.ErrorCode : null)}");
        Assert.Equal("ok", (await client.ReadResponseAsync(1)).BodyText);
    }

    [Fact]
    public async Task HeadersAfterEndStream_OnARunningStream_GoAwayStreamClosed()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            await c.ReadHeadAsync();
            arrived.TrySetResult();
            await c.ClosedAsync(TimeSpan.FromSeconds(10));
        });
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();
        await client.SendHeadersAsync(1, H2Client.Request("/slow"));
        await arrived.Task.WaitAsync(H2Client.Wait);

        await client.SendHeadersAsync(1, [("x-late", "1")], endStream: true);
        var goAway = await client.ReadGoAwayAsync();

        Assert.Equal(Http2Error.StreamClosed, goAway.ErrorCode); // RFC 9113 §5.1, half-closed (remote)
    }

    [Fact]
    public async Task ClientReset_DuringASlowExchange_ClosesTheUpstreamConnection_AndLaterStreamsWork()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var closed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            while (await c.ReadHeadAsync() is { } head)
            {
                if (head.StartsWith("GET /slow", StringComparison.Ordinal))
                {
                    arrived.TrySetResult();
                    closed.TrySetResult(await c.ClosedAsync(TimeSpan.FromSeconds(10)));
                    return;
                }

                await c.SendAsync(H2Setup.Ok);
            }
        });
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();

        await client.SendHeadersAsync(1, H2Client.Request("/slow"));
        await arrived.Task.WaitAsync(H2Client.Wait);
        await client.SendResetAsync(1, Http2Error.Cancel);

        Assert.True(await closed.Task.WaitAsync(H2Client.Wait));
        await client.SendHeadersAsync(3, H2Client.Request("/next"));
        Assert.Equal("ok", (await client.ReadResponseAsync(3)).BodyText);
        await client.SendFrameAsync(FrameType.Ping, 0, 0, new byte[8]);
        await client.ReadUntilAsync(f => f.Type == FrameType.Ping);
        Assert.DoesNotContain(client.Kept, f => f.StreamId == 1); // a reset stream is not answered
    }

    [Fact]
    public async Task RequestTrailers_AfterABodyWithoutLength_ReachTheUpstreamAsChunkedTrailers()
    {
        var seen = new TaskCompletionSource<(string Head, string Body, string Trailers)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            var head = await c.ReadHeadAsync();
            var (body, trailers) = await ReadChunkedAsync(c);
            seen.TrySetResult((head!, body, trailers));
            await c.SendAsync(H2Setup.Ok);
        });
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();

        await client.SendHeadersAsync(1, H2Client.Request("/upload", "POST", ("te", "trailers")), endStream: false);
        await client.SendDataAsync(1, "abc"u8.ToArray(), endStream: false);
        await client.SendDataAsync(1, "de"u8.ToArray(), endStream: false);
        await client.SendHeadersAsync(1, [("x-checksum", "42"), ("x-more", "yes")], endStream: true);
        var response = await client.ReadResponseAsync(1);
        var (head, body, trailers) = await seen.Task.WaitAsync(H2Client.Wait);

        Assert.Equal("ok", response.BodyText);
        Assert.Contains("\r\ntransfer-encoding: chunked", head, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("content-length", head, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("abcde", body);
        Assert.Equal("x-checksum: 42\r\nx-more: yes\r\n\r\n", trailers);
    }

    [Theory]
    [InlineData("trailers without END_STREAM", false, "x-a", "1")]
    [InlineData("pseudo-header in trailers", true, ":path", "/")]
    [InlineData("connection-specific trailer", true, "connection", "close")]
    public async Task RequestTrailers_Malformed_RstStreamProtocolError(string what, bool endStream, string name, string value)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            while (await c.ReadHeadAsync() is { } head)
            {
                if (head.StartsWith("GET", StringComparison.Ordinal))
                {
                    await c.SendAsync(H2Setup.Ok);
                }
                else
                {
                    await release.Task;
                    return;
                }
            }
        });
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();

        await client.SendHeadersAsync(1, H2Client.Request("/upload", "POST"), endStream: false);
        await client.SendDataAsync(1, "abc"u8.ToArray(), endStream: false);
        await client.SendHeadersAsync(1, [(name, value)], endStream);
        var reset = await client.ReadUntilAsync(f => f.StreamId == 1 && f.Type == FrameType.RstStream);
        release.SetResult();
        await client.SendHeadersAsync(3, H2Client.Request("/good"));

        Assert.True(reset!.ErrorCode == Http2Error.ProtocolError, $"{what}: {reset.ErrorCode}");
        Assert.Equal("ok", (await client.ReadResponseAsync(3)).BodyText);
    }

    [Fact]
    public async Task ClientGoAway_RunningStreamFinishes_ThenTheConnectionCloses()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            await c.ReadHeadAsync();
            arrived.TrySetResult();
            await release.Task;
            await c.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nfinished");
        });
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();

        await client.SendHeadersAsync(1, H2Client.Request("/slow"));
        await arrived.Task.WaitAsync(H2Client.Wait);
        await client.SendFrameAsync(FrameType.GoAway, 0, 0, new byte[8]); // last stream 0, NO_ERROR
        var goAway = await client.ReadGoAwayAsync();
        release.SetResult();
        var response = await client.ReadResponseAsync(1);

        Assert.Equal((Http2Error.NoError, 1), (goAway.ErrorCode, goAway.GoAwayLastStream));
        Assert.Equal("finished", response.BodyText);
        Assert.Equal(H2End.Fin, await client.ClosedAsync());
    }

    /// <summary>A chunked body as the upstream reads it: the data (chunk boundaries are the proxy's choice), then the trailer section.</summary>
    internal static async Task<(string Data, string Trailers)> ReadChunkedAsync(ScriptedConnection c)
    {
        var data = new System.Text.StringBuilder();
        while (true)
        {
            var line = new System.Text.StringBuilder();
            while (!line.ToString().EndsWith("\r\n", StringComparison.Ordinal))
            {
                var next = await c.ReadAsync(1);
                Assert.NotEmpty(next);
                line.Append(next);
            }

            var size = Convert.ToInt32(line.ToString().TrimEnd(), 16);
            if (size == 0)
            {
                var trailers = new System.Text.StringBuilder();
                while (!trailers.ToString().EndsWith("\r\n", StringComparison.Ordinal) || (trailers.Length > 2 && !trailers.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal)))
                {
                    var next = await c.ReadAsync(1);
                    Assert.NotEmpty(next);
                    trailers.Append(next);
                }

                return (data.ToString(), trailers.ToString());
            }

            data.Append(await c.ReadAsync(size));
            Assert.Equal("\r\n", await c.ReadAsync(2));
        }
    }

    private static (string, string)[] Pairs(string[] flat) =>
        [.. Enumerable.Range(0, flat.Length / 2).Select(i => (flat[2 * i], flat[(2 * i) + 1]))];

    [Fact]
    public async Task ErrorAnswer_BeforeTheRequestBodyEnded_RstStreamNoError()
    {
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        await using var proxy = await H2Setup.StartAsync(new EndpointConfig("127.0.0.1", port));
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();

        await client.SendHeadersAsync(1, H2Client.Request("/upload", "POST"), endStream: false);
        var response = await client.ReadResponseAsync(1);
        var reset = await client.ReadUntilAsync(f => f.StreamId == 1);

        Assert.Equal(503, response.Status);
        Assert.Equal((FrameType.RstStream, Http2Error.NoError), (reset!.Type, reset.ErrorCode)); // the client may stop sending (RFC 9113 §8.1)
    }
}
