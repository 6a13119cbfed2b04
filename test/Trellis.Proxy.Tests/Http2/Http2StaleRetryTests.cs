using System.Collections.Concurrent;
using System.Text;
using Trellis.Proxy.Http2;
using Trellis.Proxy.Tests.Http1;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Http2;

/// <summary>
/// A request with a body that meets a stale pooled upstream connection (the upstream closed it
/// after its previous response; the proxy finds out when the request gets no answer) is sent once
/// more on a new connection when all of its body can be sent again, and the body's bytes return to
/// the connection's window once.
/// </summary>
public sealed class Http2StaleRetryTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task StalePooledConnection_WholeBody_SentOnceMoreOnANewConnection(bool withLength)
    {
        var upstream = new StaleUpstream(staleReads: withLength ? "hello" : "5\r\nhello\r\n0\r\n\r\n");
        await using var backend = upstream.Start();
        var logs = new CapturingLoggerProvider();
        await using var proxy = await ProxyHarness.StartAsync(H2Setup.Http2(Snapshots.ToCluster("1", backend.Endpoint)), loggerFactory: logs);
        using var client = await ConnectAfterFirstExchangeAsync(proxy, logs);

        await client.SendHeadersAsync(3, H2Client.Request("/upload", "POST", withLength ? [("content-length", "5")] : []), endStream: false);
        await client.SendDataAsync(3, "hello"u8.ToArray());
        var response = await client.ReadResponseAsync(3);

        Assert.Equal((200, "5"), (response.Status, response.BodyText));
        Assert.Equal(["hello"], upstream.Bodies);
        Assert.Contains(withLength ? "content-length: 5" : "transfer-encoding: chunked", upstream.Heads.Single(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(2, backend.Connections);
    }

    [Fact]
    public async Task StalePooledConnection_BodyNotArrivedYet_HeadSentAgainAndTheBodyFollowsOnTheNewConnection()
    {
        var upstream = new StaleUpstream(staleReads: string.Empty);
        await using var backend = upstream.Start();
        var logs = new CapturingLoggerProvider();
        await using var proxy = await ProxyHarness.StartAsync(H2Setup.Http2(Snapshots.ToCluster("1", backend.Endpoint)), loggerFactory: logs);
        using var client = await ConnectAfterFirstExchangeAsync(proxy, logs);

        await client.SendHeadersAsync(3, H2Client.Request("/upload", "POST", ("content-length", "5")), endStream: false);
        await upstream.ServingHeadRead.Task.WaitAsync(H2Client.Wait); // the stale attempt has failed, with no body byte sent
        await client.SendDataAsync(3, "hello"u8.ToArray());
        var response = await client.ReadResponseAsync(3);

        Assert.Equal((200, "5"), (response.Status, response.BodyText));
        Assert.Equal(["hello"], upstream.Bodies);
        Assert.Equal(2, backend.Connections);
    }

    [Fact]
    public async Task StalePooledConnection_BodyStillStreaming_502AndNotSentAgain()
    {
        var upstream = new StaleUpstream(staleReads: "4\r\npart\r\n");
        await using var backend = upstream.Start();
        var logs = new CapturingLoggerProvider();
        await using var proxy = await ProxyHarness.StartAsync(H2Setup.Http2(Snapshots.ToCluster("1", backend.Endpoint)), loggerFactory: logs);
        using var client = await ConnectAfterFirstExchangeAsync(proxy, logs);

        await client.SendHeadersAsync(3, H2Client.Request("/upload", "POST"), endStream: false);
        await client.SendDataAsync(3, "part"u8.ToArray(), endStream: false);
        var response = await client.ReadResponseAsync(3);

        Assert.Equal(502, response.Status);
        Assert.Empty(upstream.Bodies);
        Assert.Equal(1, backend.Connections);
    }

    /// <summary>
    /// The retried body (1000 bytes) and a following upload make exactly half the connection's
    /// window (512 KiB), the step in which the proxy returns it: one WINDOW_UPDATE of exactly that
    /// comes when both are through. A body never returned would leave it unsent (and uploads would
    /// stall as such streams add up); one returned twice would send it early, with another size.
    /// </summary>
    [Fact]
    public async Task StalePooledConnection_RetriedBody_ReturnsToTheConnectionWindowOnce()
    {
        const int half = 512 * 1024;
        var retried = new byte[1000];
        var upstream = new StaleUpstream(staleReads: new string('\0', retried.Length));
        await using var backend = upstream.Start();
        var logs = new CapturingLoggerProvider();
        await using var proxy = await ProxyHarness.StartAsync(H2Setup.Http2(Snapshots.ToCluster("1", backend.Endpoint)), loggerFactory: logs);
        using var client = await ConnectAfterFirstExchangeAsync(proxy, logs);
        await client.SendHeadersAsync(3, H2Client.Request("/upload", "POST", ("content-length", "1000")), endStream: false);
        await client.SendDataAsync(3, retried);
        Assert.Equal(200, (await client.ReadResponseAsync(3)).Status);

        var rest = half - retried.Length;
        await client.SendHeadersAsync(5, H2Client.Request("/big", "POST", ("content-length", rest.ToString(System.Globalization.CultureInfo.InvariantCulture))), endStream: false);
        await SendWithinStreamWindowAsync(client, 5, rest);
        var response = await client.ReadResponseAsync(5);
        var update = await client.ReadUntilAsync(f => f.Type == FrameType.WindowUpdate && f.StreamId == 0);

        Assert.Equal(rest.ToString(System.Globalization.CultureInfo.InvariantCulture), response.BodyText);
        Assert.Equal(half, update!.WindowIncrement);
        Assert.Equal(2, upstream.Bodies.Count);
    }

    /// <summary>An h2c client whose first exchange (GET /first) went over the connection that goes stale, once the proxy has pooled it.</summary>
    private static async Task<H2Client> ConnectAfterFirstExchangeAsync(ProxyHarness proxy, CapturingLoggerProvider logs)
    {
        var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();
        await client.SendHeadersAsync(1, H2Client.Request("/first"));
        Assert.Equal("ok", (await client.ReadResponseAsync(1)).BodyText);

        // The access log entry is written after the exchange has given its connection back to the pool.
        await Eventually.TrueAsync(() => logs.Entries.Any(e => e.Category == "Trellis.Proxy.AccessLog"), "the first exchange has ended");
        return client;
    }

    /// <summary>DATA frames within the stream's window (the proxy's 256 KiB, then its updates); the last ends the stream.</summary>
    private static async Task SendWithinStreamWindowAsync(H2Client client, int streamId, int total)
    {
        var window = Http2Connection.StreamWindow;
        var sent = 0;
        while (sent < total)
        {
            if (window == 0)
            {
                window += (await client.ReadUntilAsync(f => f.Type == FrameType.WindowUpdate && f.StreamId == streamId))!.WindowIncrement;
                continue;
            }

            var size = Math.Min(Math.Min(total - sent, window), FrameHeader.MaxPayload);
            await client.SendDataAsync(streamId, new byte[size], endStream: sent + size == total);
            sent += size;
            window -= size;
        }
    }

    /// <summary>
    /// Its first connection answers GET /first and keeps the connection, which the proxy pools; it then
    /// reads the next request's head and <c>staleReads</c> (so the proxy's exchange has got that far)
    /// and closes without answering: what a keep-alive connection the upstream has closed looks like to
    /// the proxy. Later connections read each request whole and answer with its body's length.
    /// </summary>
    private sealed class StaleUpstream(string staleReads)
    {
        private int _accepted;

        public ConcurrentQueue<string> Bodies { get; } = new();

        public ConcurrentQueue<string> Heads { get; } = new();

        public TaskCompletionSource ServingHeadRead { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ScriptedUpstream Start() => ScriptedUpstream.Start(c => Interlocked.Increment(ref _accepted) == 1 ? GoStaleAsync(c) : ServeAsync(c));

        private async Task GoStaleAsync(ScriptedConnection c)
        {
            await c.ReadHeadAsync();
            await c.SendAsync(H2Setup.Ok);
            await c.ReadHeadAsync();
            await c.ReadAsync(staleReads.Length);
        }

        private async Task ServeAsync(ScriptedConnection c)
        {
            while (await c.ReadHeadAsync() is { } head)
            {
                Heads.Enqueue(head);
                ServingHeadRead.TrySetResult();
                var length = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("content-length:", StringComparison.OrdinalIgnoreCase));
                var body = length is null ? await ReadChunkedAsync(c) : await ReadAsync(c, int.Parse(length[15..].Trim(), System.Globalization.CultureInfo.InvariantCulture));
                Bodies.Enqueue(body);
                var answer = body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await c.SendAsync($"HTTP/1.1 200 OK\r\nContent-Length: {answer.Length}\r\n\r\n{answer}");
            }
        }

        private static async Task<string> ReadAsync(ScriptedConnection c, int length)
        {
            var body = new StringBuilder();
            while (body.Length < length)
            {
                var part = await c.ReadAsync(Math.Min(length - body.Length, 64 * 1024));
                if (part.Length == 0)
                {
                    throw new IOException("the proxy closed the connection");
                }

                body.Append(part);
            }

            return body.ToString();
        }

        private static async Task<string> ReadChunkedAsync(ScriptedConnection c)
        {
            var body = new StringBuilder();
            while (true)
            {
                var size = Convert.ToInt32(await ReadLineAsync(c), 16);
                if (size == 0)
                {
                    while ((await ReadLineAsync(c)).Length > 0)
                    {
                        // trailer fields
                    }

                    return body.ToString();
                }

                body.Append(await ReadAsync(c, size));
                await ReadAsync(c, 2);
            }
        }

        private static async Task<string> ReadLineAsync(ScriptedConnection c)
        {
            var line = new StringBuilder();
            while (line.Length < 2 || line[^2] != '\r' || line[^1] != '\n')
            {
                line.Append(await ReadAsync(c, 1));
            }

            return line.ToString(0, line.Length - 2);
        }
    }
}
