using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Http1;

/// <summary>
/// Fast-path exchanges where a side ends (its half of) a connection early: a client that
/// half-closes after its request, or resets.
/// </summary>
public sealed class FastPathConnectionEndTests
{
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
        await SweepsAsync(time); // the exchange is past the 200 ms watch delay: the sweep watches the client
        release.SetResult();
        var response = await client.ReadResponseAsync();

        Assert.Equal(200, response.Status);
        Assert.Equal("slow", response.Body);
        Assert.Equal("close", response.Header("Connection"));
        Assert.True(await client.ClosedAsync());
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
        await SweepsAsync(time);

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
        await SweepsAsync(time); // sees the FIN: still there
        client.Reset();
        await SweepsAsync(time); // sees the reset: gone

        Assert.True(await closed.Task.WaitAsync(Limit));
    }

    /// <summary>Two sweeps of the listener (once a second of the proxy's clock), each given a moment to act.</summary>
    private static async Task SweepsAsync(ManualTimeProvider time)
    {
        for (var i = 0; i < 2; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(100);
        }
    }
}
