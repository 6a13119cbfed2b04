using Trellis.Proxy.Http2;
using Trellis.Proxy.Tests.Http1;

namespace Trellis.Proxy.Tests.Http2;

/// <summary>
/// DATA on streams that are no longer open (RFC 9113 §5.1, §6.1, §6.9): ignored after a reset of the
/// proxy's, a stream error STREAM_CLOSED (once) on a stream the client reset or on a half-closed
/// (remote) one, and counted against the connection window in every case. DATA on idle
/// streams is in <see cref="Http2ConnectionTests.ConnectionErrors"/>.
/// </summary>
public sealed class Http2ClosedStreamTests
{
    private const int ConnectionWindow = 1024 * 1024;

    [Theory]
    [InlineData("reset by the proxy")]
    [InlineData("reset by the client")]
    public async Task Data_OnAClosedStream_ProxyResetIgnored_ClientResetAnsweredOnce_AndTheConnectionWindowComesBack(string how)
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = SlowUpstream(arrived);
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();
        if (how == "reset by the proxy")
        {
            await client.SendHeadersAsync(1, H2Client.Request("/", "POST", ("X-Upper", "1")), endStream: false); // malformed (RFC 9113 §8.2.1)
            Assert.Equal(Http2Error.ProtocolError, (await client.ReadResponseAsync(1)).Reset);
        }
        else
        {
            await client.SendHeadersAsync(1, H2Client.Request("/slow", "POST"), endStream: false);
            await arrived.Task.WaitAsync(H2Client.Wait);
            await client.SendResetAsync(1, Http2Error.Cancel);
        }

        // The body goes on as if the client had not yet seen the reset: a whole connection window of it.
        await client.SendDataAsync(1, new byte[ConnectionWindow]);
        long reopened = 0;
        while (reopened < ConnectionWindow)
        {
            var update = await client.ReadUntilAsync(f => f.Type == FrameType.WindowUpdate && f.StreamId == 0);
            Assert.NotNull(update);
            reopened += update.WindowIncrement;
        }

        await client.SendFrameAsync(FrameType.Ping, 0, 0, new byte[8]); // anything the DATA drew would come before the answer
        Assert.NotNull(await client.ReadUntilAsync(f => f.Type == FrameType.Ping));
        Assert.DoesNotContain(client.Kept, f => f.Type == FrameType.GoAway);
        var answers = client.Kept.Where(f => f.Type == FrameType.RstStream && f.StreamId == 1).ToList();
        if (how == "reset by the proxy")
        {
            Assert.Empty(answers); // RFC 9113 §5.1: what was on its way after our reset is ignored
        }
        else
        {
            // §5.1 and §6.1: a stream error STREAM_CLOSED, once however many DATA frames follow.
            Assert.Equal([Http2Error.StreamClosed], answers.Select(f => f.ErrorCode));
        }

        Assert.Equal(ConnectionWindow, reopened);
        await client.SendHeadersAsync(3, H2Client.Request("/next"));
        Assert.Equal("ok", (await client.ReadResponseAsync(3)).BodyText);
    }

    [Fact]
    public async Task Data_AfterEndStream_OnARunningStream_RstStreamClosed_TheExchangeStops_AndTheConnectionGoesOn()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var closed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = SlowUpstream(arrived, closed);
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();

        await client.SendHeadersAsync(1, H2Client.Request("/slow")); // END_STREAM: half-closed (remote) while it runs
        await arrived.Task.WaitAsync(H2Client.Wait);
        await client.SendDataAsync(1, "x"u8.ToArray());
        var reset = await client.ReadUntilAsync(f => f.StreamId == 1);

        Assert.Equal((FrameType.RstStream, Http2Error.StreamClosed), (reset!.Type, reset.ErrorCode)); // RFC 9113 §5.1, §6.1
        Assert.True(await closed.Task.WaitAsync(H2Client.Wait)); // the exchange stopped: nothing of the stream can follow the reset
        await client.SendHeadersAsync(3, H2Client.Request("/next"));
        Assert.Equal("ok", (await client.ReadResponseAsync(3)).BodyText);
    }

    /// <summary>An upstream that holds <c>/slow</c> until the proxy closes the connection (told by <paramref name="closed"/>) and answers anything else "ok".</summary>
    private static ScriptedUpstream SlowUpstream(TaskCompletionSource arrived, TaskCompletionSource<bool>? closed = null) =>
        ScriptedUpstream.Start(async c =>
        {
            while (await c.ReadHeadAsync() is { } head)
            {
                if (head.Contains(" /slow ", StringComparison.Ordinal))
                {
                    arrived.TrySetResult();
                    var gone = await c.ClosedAsync(TimeSpan.FromSeconds(10));
                    closed?.TrySetResult(gone);
                    return;
                }

                await c.SendAsync(H2Setup.Ok);
            }
        });
}
