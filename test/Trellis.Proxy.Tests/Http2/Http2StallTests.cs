using System.Net.Sockets;
using Trellis.Proxy.Http2;
using Trellis.Proxy.Tests.Http1;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Http2;

/// <summary>
/// A client that stops taking its output (never reads its socket, or never opens a window) has its
/// connection ended after <see cref="Http2Connection.StallLimit"/> without progress, on the proxy's
/// clock, and the upstream connections its streams held are closed; one that takes it slowly is not cut.
/// </summary>
public sealed class Http2StallTests
{
    private const int SlowBody = 256 * 1024;
    private const int Step = 16 * 1024;

    [Fact]
    public async Task Download_ClientReadsNothing_ConnectionEndedAfterTheStallLimit_UpstreamConnectionClosed()
    {
        var (arrived, closed) = (NewSignal(), NewSignal());
        await using var backend = ScriptedUpstream.Start(c => EndlessBodyAsync(c, arrived, closed));
        var time = new ManualTimeProvider();
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint, time: time);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port, settings: (SettingIds.InitialWindowSize, int.MaxValue));
        await client.ReadPrefaceAsync();
        await client.SendWindowUpdateAsync(0, int.MaxValue - 65535); // no window ever blocks: only the socket does

        await client.SendHeadersAsync(1, H2Client.Request("/huge"));
        await arrived.Task.WaitAsync(H2Client.Wait);
        var took = await SweepUntilAsync(time, closed.Task); // the client reads nothing meanwhile

        Assert.InRange(took, Http2Connection.StallLimit, Http2Connection.StallLimit + Slack);
        await SweepUntilAsync(time, client.ClosedAsync()); // and so does the client's socket, once it has read what was sent
    }

    [Fact]
    public async Task Download_ClientNeverOpensTheWindow_GoAwayEnhanceYourCalmAfterTheStallLimit_UpstreamConnectionClosed()
    {
        var (arrived, closed) = (NewSignal(), NewSignal());
        await using var backend = ScriptedUpstream.Start(c => EndlessBodyAsync(c, arrived, closed));
        var time = new ManualTimeProvider();
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint, time: time);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port, settings: (SettingIds.InitialWindowSize, 1000));
        client.AutoWindowUpdate = false;
        await client.ReadPrefaceAsync();

        await client.SendHeadersAsync(1, H2Client.Request("/huge"));
        Assert.Equal(1000, await ReadDataAsync(client, 1000)); // the stream's window is spent: it now waits for an update that never comes
        H2Frame? goAway = null;
        var took = await SweepUntilAsync(time, closed.Task, async () =>
        {
            // The client reads its socket and answers nothing but PINGs: PING ACKs are not progress.
            goAway ??= await PingAsync(client);
        });
        goAway ??= await client.ReadGoAwayAsync();

        Assert.InRange(took, Http2Connection.StallLimit, Http2Connection.StallLimit + Slack);
        Assert.Equal((Http2Error.EnhanceYourCalm, 1), (goAway.ErrorCode, goAway.GoAwayLastStream));
        Assert.Equal(H2End.Fin, await client.ClosedAsync());
    }

    /// <summary>
    /// The window opens a step at a time, each step half the stall limit apart on the proxy's clock, for
    /// three limits in all: the stream always waits for a window, but DATA moves between every two sweeps.
    /// </summary>
    [Fact]
    public async Task Download_ClientOpensTheWindowSlowlyButSteadily_IsNotCut()
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(
            $"HTTP/1.1 200 OK\r\nContent-Length: {SlowBody}\r\n\r\n" + new string('x', SlowBody)));
        var time = new ManualTimeProvider();
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint, time: time);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port, settings: (SettingIds.InitialWindowSize, Step));
        client.AutoWindowUpdate = false;
        await client.ReadPrefaceAsync();

        await client.SendHeadersAsync(1, H2Client.Request("/slow-reader"));
        var received = await ReadDataAsync(client, Step);
        for (var step = 0; step < 6; step++)
        {
            time.Advance(Http2Connection.StallLimit / 2); // one sweep
            await client.SendWindowUpdateAsync(1, Step);
            await client.SendWindowUpdateAsync(0, Step);
            received += await ReadDataAsync(client, Step);
        }

        await client.SendWindowUpdateAsync(1, SlowBody - received);
        await client.SendWindowUpdateAsync(0, SlowBody - received);
        var rest = await client.ReadResponseAsync(1);

        Assert.Null(rest.Reset);
        Assert.Equal(SlowBody, received + rest.Body.Length);
        Assert.DoesNotContain(client.Kept, f => f.Type == FrameType.GoAway);
    }

    /// <summary>
    /// How far past the stall limit the end may come on the proxy's clock: the sweep that first sees the
    /// stall can come some sweeps after the output stopped (the socket buffers fill in real time while
    /// the clock runs ahead), and the end itself travels over the thread pool; each sweep waits up to
    /// <see cref="Grace"/> for it. A limit broken towards twice its value still fails.
    /// </summary>
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(15);

    private static readonly TimeSpan Grace = TimeSpan.FromMilliseconds(50);

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>An upstream answering with a body that does not end: it sends until the proxy closes the connection.</summary>
    private static async Task EndlessBodyAsync(ScriptedConnection c, TaskCompletionSource arrived, TaskCompletionSource closed)
    {
        await c.ReadHeadAsync();
        arrived.TrySetResult();
        var chunk = new byte[64 * 1024];
        try
        {
            await c.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\n\r\n");
            while (true)
            {
                await c.Socket.SendAsync(chunk, SocketFlags.None);
            }
        }
        catch (SocketException)
        {
            closed.TrySetResult(); // reset or closed by the proxy
        }
    }

    /// <summary>
    /// Sweeps, one second of the proxy's clock each (with <paramref name="between"/> after each, and up to
    /// <see cref="Grace"/> for <paramref name="done"/>), until <paramref name="done"/>; how much of that
    /// clock it took. The wall clock only bounds the wait.
    /// </summary>
    private static async Task<TimeSpan> SweepUntilAsync(ManualTimeProvider time, Task done, Func<Task>? between = null)
    {
        var start = time.GetTimestamp();
        using var limit = new CancellationTokenSource(H2Client.Wait);
        while (!done.IsCompleted)
        {
            Assert.False(limit.IsCancellationRequested, $"not done after {time.GetElapsedTime(start)} of the proxy's clock");
            time.Advance(TimeSpan.FromSeconds(1));
            await (between?.Invoke() ?? Task.CompletedTask);
            await Task.WhenAny(done, Task.Delay(Grace, CancellationToken.None));
        }

        await done;
        return time.GetElapsedTime(start);
    }

    /// <summary>A PING round trip; the GOAWAY instead when the connection was ended meanwhile.</summary>
    private static async Task<H2Frame?> PingAsync(H2Client client)
    {
        try
        {
            await client.SendFrameAsync(FrameType.Ping, 0, 0, new byte[8]);
        }
        catch (SocketException)
        {
            return null; // closed: the GOAWAY before the close is still to be read
        }

        var answer = await client.ReadUntilAsync(f => f.Type is FrameType.Ping or FrameType.GoAway);
        return answer is { Type: FrameType.GoAway } ? answer : null;
    }

    /// <summary>Reads stream 1's frames until <paramref name="bytes"/> of DATA have come; how many did.</summary>
    private static async Task<int> ReadDataAsync(H2Client client, int bytes)
    {
        var received = 0;
        while (received < bytes)
        {
            var frame = await client.ReadUntilAsync(f => f.StreamId == 1 || f.Type == FrameType.GoAway);
            Assert.True(frame is { Type: FrameType.Headers or FrameType.Data }, $"{frame} while waiting for DATA");
            received += frame.Type == FrameType.Data ? frame.Payload.Length : 0;
        }

        return received;
    }
}
