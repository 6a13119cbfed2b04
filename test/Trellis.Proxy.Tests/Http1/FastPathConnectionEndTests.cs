using System.Net.Sockets;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Http1;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Http1;

/// <summary>
/// Fast-path exchanges where a side ends (its half of) a connection early: a client that
/// half-closes after its request, or resets; an upstream that answers before reading the body.
/// </summary>
public sealed class FastPathConnectionEndTests
{
    private const int BigBody = 64 * 1024 * 1024;

    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task HalfClosedClient_RequestComplete_GetsTheSlowResponseThenTheConnectionCloses()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            if (await c.ReadHeadAsync() is null)
            {
                return;
            }

            arrived.TrySetResult();
            await release.Task;
            await c.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow");
            await c.ClosedAsync(Limit);
        });
        var time = new ManualTimeProvider();
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint), time: time);
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        client.ShutdownSend(); // shutdown(SHUT_WR) after the whole request, as `nc -N` and some tunnels do
        await arrived.Task.WaitAsync(Limit);
        // The exchange is past the 200 ms watch delay: the sweep watches the client, sees the FIN, probes.
        await SweepUntilAsync(time, () => client.Unread > 0, "the probe reached the client");
        release.SetResult();
        var probe = await client.ReadResponseAsync(bodyless: true);
        var response = await client.ReadFinalResponseAsync();

        Assert.Equal("HTTP/1.1 100 Continue", probe.StatusLine); // an interim answer the client may ignore

        Assert.Equal(200, response.Status);
        Assert.Equal("slow", response.Body);
        Assert.Equal("close", response.Header("Connection"));
        Assert.True(await client.ClosedAsync());
    }

    /// <summary>A client that closes its socket sends a FIN too (as HttpClient does on a cancel): the probe's reset tells it from a half-close.</summary>
    [Fact]
    public async Task ClosedClient_DuringASlowExchange_UpstreamConnectionIsClosed()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var closed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            if (await c.ReadHeadAsync() is null)
            {
                return;
            }

            arrived.TrySetResult();
            closed.TrySetResult(await c.ClosedAsync(Limit));
        });
        var time = new ManualTimeProvider();
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint), time: time);
        var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        await arrived.Task.WaitAsync(Limit);
        client.Dispose(); // close(): a FIN, and a reset for anything sent to it afterwards
        await SweepUntilAsync(time, () => closed.Task.IsCompleted, "the upstream connection closed"); // sees the FIN, probes; sees the reset: gone

        Assert.True(await closed.Task.WaitAsync(Limit));
    }

    [Fact]
    public async Task ResetClient_DuringASlowExchange_UpstreamConnectionIsClosed()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var closed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            if (await c.ReadHeadAsync() is null)
            {
                return;
            }

            arrived.TrySetResult();
            closed.TrySetResult(await c.ClosedAsync(Limit));
        });
        var time = new ManualTimeProvider();
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint), time: time);
        var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        await arrived.Task.WaitAsync(Limit);
        client.Reset();
        await SweepUntilAsync(time, () => closed.Task.IsCompleted, "the upstream connection closed");

        Assert.True(await closed.Task.WaitAsync(Limit)); // the exchange was cancelled, as RequestAborted does on the Kestrel path
    }

    [Fact]
    public async Task HalfClosedClient_ThenReset_UpstreamConnectionIsClosed()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var closed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            if (await c.ReadHeadAsync() is null)
            {
                return;
            }

            arrived.TrySetResult();
            closed.TrySetResult(await c.ClosedAsync(Limit));
        });
        var time = new ManualTimeProvider();
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint), time: time);
        var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        client.ShutdownSend();
        await arrived.Task.WaitAsync(Limit);
        await SweepUntilAsync(time, () => client.Unread > 0, "the probe reached the client"); // sees the FIN, probes: still there
        Assert.False(closed.Task.IsCompleted);
        client.Reset();
        await SweepUntilAsync(time, () => closed.Task.IsCompleted, "the upstream connection closed"); // sees the reset: gone

        Assert.True(await closed.Task.WaitAsync(Limit));
    }

    /// <summary>
    /// An upstream may answer (413, 401) without reading the body and close, which resets the
    /// connection under the body still streaming. The answer is whole, so the client gets it, with
    /// Connection: close since its body was not all read. Whether the body copy has failed yet when the
    /// head goes out is a race, so each run repeats the exchange; <see cref="BodyConsumed_CopyState_ConnectionGoesOnOnlyAfterAWholeCopy"/>
    /// pins the decision itself.
    /// </summary>
    [Fact]
    public async Task UpstreamAnswersEarlyAndCloses_BodyStillStreaming_ClientGetsTheAnswerWithConnectionClose()
    {
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            if (await c.ReadHeadAsync() is null)
            {
                return;
            }

            await c.SendAsync("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\n\r\ntoo big!");
            // Closing with the body unread sends a reset.
        });
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));

        for (var i = 0; i < 20; i++)
        {
            using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);
            await client.SendAsync($"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: {BigBody}\r\n\r\n");
            var sending = SendBodyAsync(client);
            var response = await client.ReadResponseAsync();

            Assert.Equal("413 too big! close", $"{response.Status} {response.Body} {response.Header("Connection")}");
            Assert.True(await client.ClosedAsync());
            client.Dispose();
            await sending;
        }
    }

    [Fact]
    public async Task UpstreamAnswersEarlyAndDiscardsTheBody_ClientGetsTheAnswerAndTheBodyStops()
    {
        var discarded = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            if (await c.ReadHeadAsync() is null)
            {
                return;
            }

            await c.SendAsync("HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nwho?");
            discarded.TrySetResult(await c.DiscardAsync()); // reads on until the proxy closes
        });
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);

        await client.SendAsync($"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: {BigBody}\r\n\r\n");
        var sending = SendBodyAsync(client);
        var response = await client.ReadResponseAsync();

        Assert.Equal(401, response.Status);
        Assert.Equal("who?", response.Body);
        Assert.Equal("close", response.Header("Connection"));
        Assert.True(await client.ClosedAsync());
        Assert.True(await discarded.Task.WaitAsync(Limit) < BigBody); // once answered, the rest of the body is not sent on
        client.Dispose();
        await sending;
    }

    [Theory]
    [InlineData("no streamed body", false, ForwardError.None, true)]
    [InlineData("copied whole", true, ForwardError.None, true)]
    [InlineData("still copying", true, null, false)]
    [InlineData("upstream closed under the copy", true, ForwardError.RequestBodyUpstream, false)]
    [InlineData("client left mid-body", true, ForwardError.RequestBodyClient, false)]
    public void BodyConsumed_CopyState_ConnectionGoesOnOnlyAfterAWholeCopy(string what, bool streamed, ForwardError? copied, bool expected)
    {
        var copy = !streamed ? null
            : copied is { } done ? Task.FromResult(done)
            : new TaskCompletionSource<ForwardError>().Task;

        Assert.True(Http1Connection.BodyConsumed(copy) == expected, what);
    }

    /// <summary>
    /// Sweeps of the listener (one per second of the proxy's clock) until <paramref name="done"/>, with
    /// a short pause after each for what the sweep started (a watch read, a probe) to act; fails after <see cref="Limit"/>.
    /// </summary>
    private static async Task SweepUntilAsync(ManualTimeProvider time, Func<bool> done, string what)
    {
        using var limit = new CancellationTokenSource(Limit);
        while (!done())
        {
            Assert.False(limit.IsCancellationRequested, $"not {what} within {Limit}");
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(5, CancellationToken.None);
        }
    }

    /// <summary>
    /// <see cref="BigBody"/> bytes in pieces, until the proxy closes the connection. More than the socket
    /// buffers on the way hold (loopback grows them to megabytes), so none of it can all be read by the time an answer comes.
    /// </summary>
    private static async Task SendBodyAsync(RawClient client)
    {
        var piece = new string('x', 64 * 1024);
        try
        {
            for (var sent = 0; sent < BigBody; sent += piece.Length)
            {
                await client.SendAsync(piece);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The proxy closed the connection after its answer.
        }
    }
}
