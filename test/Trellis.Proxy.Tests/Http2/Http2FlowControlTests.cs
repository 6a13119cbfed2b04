using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Http2;
using Trellis.Proxy.Tests.Http1;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Http2;

/// <summary>Flow control (RFC 9113 §5.2, §6.9) both ways: the client's windows bound the responses, the proxy's windows open as request bodies go upstream.</summary>
public sealed class Http2FlowControlTests
{
    private static readonly byte[] Thousand = [.. Enumerable.Range(0, 1000).Select(i => (byte)('a' + (i % 26)))];

    [Fact]
    public async Task Response_SmallClientWindow_DataNeverExceedsIt_AndTheRestComesWithWindowUpdates()
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(
            "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + System.Text.Encoding.ASCII.GetString(Thousand)));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port, settings: (SettingIds.InitialWindowSize, 100));
        await client.ReadPrefaceAsync();

        await client.SendHeadersAsync(1, H2Client.Request());
        var granted = 100;
        var body = new MemoryStream();
        var headers = await client.ReadUntilAsync(f => f.StreamId == 1);
        Assert.Equal(FrameType.Headers, headers!.Type);
        while (true)
        {
            var data = await client.ReadUntilAsync(f => f.StreamId == 1);
            Assert.Equal(FrameType.Data, data!.Type);
            body.Write(data.Payload);
            Assert.True(body.Length <= granted, $"{body.Length} bytes sent within a window of {granted}");
            if (data.Has(FrameFlags.EndStream))
            {
                break;
            }

            if (body.Length == granted)
            {
                // Nothing more may come before the window opens: a PING round trip shows nothing was on its way.
                await client.SendFrameAsync(FrameType.Ping, 0, 0, new byte[8]);
                var next = await client.ReadUntilAsync(f => f.StreamId == 1 || f.Type == FrameType.Ping);
                Assert.Equal(FrameType.Ping, next!.Type);
                granted += 300;
                await client.SendWindowUpdateAsync(1, 300);
            }
        }

        Assert.Equal(Thousand, body.ToArray());
        Assert.Equal(1000, granted); // 100, then three updates of 300: each one was needed
    }

    [Fact]
    public async Task Response_ClientWindowOfZero_OpenedBySettingsChange_BodyFlows()
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(
            "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + System.Text.Encoding.ASCII.GetString(Thousand)));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port, settings: (SettingIds.InitialWindowSize, 0));
        await client.ReadPrefaceAsync();

        await client.SendHeadersAsync(1, H2Client.Request());
        var headers = await client.ReadUntilAsync(f => f.StreamId == 1);
        await client.SendFrameAsync(FrameType.Ping, 0, 0, new byte[8]);
        var pong = await client.ReadUntilAsync(f => f.StreamId == 1 || f.Type == FrameType.Ping);
        await client.SendSettingsAsync((SettingIds.InitialWindowSize, 65535)); // every open stream's window grows by the difference (§6.9.2)
        var response = await client.ReadResponseAsync(1);

        Assert.Equal(FrameType.Headers, headers!.Type);
        Assert.Equal(FrameType.Ping, pong!.Type);
        Assert.Equal(Thousand, response.Body.ToArray());
    }

    [Fact]
    public async Task Response_LargerThanTheClientsConnectionWindow_ArrivesWhole()
    {
        var body = RandomNumberGenerator.GetBytes(3 * 1024 * 1024);
        await using var backend = await TestBackend.StartAsync(c => c.Response.Body.WriteAsync(body).AsTask());
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port); // 65535-byte windows, opened per frame read
        await client.ReadPrefaceAsync();

        await client.SendHeadersAsync(1, H2Client.Request("/big"));
        var response = await client.ReadResponseAsync(1);

        Assert.Null(response.Reset);
        Assert.Equal(body, response.Body.ToArray());
        Assert.All(response.DataSizes, size => Assert.InRange(size, 0, FrameHeader.MaxPayload));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)] // chunked upstream
    public async Task RequestBody_LargerThanTheProxysWindows_ArrivesUpstreamWhole(bool declareLength)
    {
        var body = RandomNumberGenerator.GetBytes(5 * 1024 * 1024);
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            using var copy = new MemoryStream();
            await c.Request.Body.CopyToAsync(copy);
            await c.Response.WriteAsync($"{copy.Length} {Convert.ToHexString(SHA256.HashData(copy.ToArray()))}");
        });
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        var settings = await client.ReadPrefaceAsync();

        (string, string)[] fields = declareLength ? [("content-length", body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))] : [];
        await client.SendHeadersAsync(1, H2Client.Request("/upload", "POST", fields), endStream: false);
        long streamWindow = settings[SettingIds.InitialWindowSize], connectionWindow = 1024 * 1024;
        for (var sent = 0; sent < body.Length;)
        {
            var size = (int)Math.Min(Math.Min(body.Length - sent, FrameHeader.MaxPayload), Math.Min(streamWindow, connectionWindow));
            if (size == 0)
            {
                // Both windows must open again as the body goes upstream, or this waits in vain.
                var update = await client.ReadUntilAsync(f => f.Type == FrameType.WindowUpdate || f.Type == FrameType.RstStream || f.Type == FrameType.GoAway);
                Assert.Equal(FrameType.WindowUpdate, update!.Type);
                if (update.StreamId == 0)
                {
                    connectionWindow += update.WindowIncrement;
                }
                else
                {
                    streamWindow += update.WindowIncrement;
                }

                continue;
            }

            await client.SendFrameAsync(FrameType.Data, sent + size == body.Length ? FrameFlags.EndStream : (byte)0, 1, body.AsSpan(sent, size));
            sent += size;
            streamWindow -= size;
            connectionWindow -= size;
        }

        var response = await client.ReadResponseAsync(1);

        Assert.Equal($"{body.Length} {Convert.ToHexString(SHA256.HashData(body))}", response.BodyText);
    }

    /// <summary>
    /// The client's windows say how much it will accept, not how fast it reads: with windows of
    /// 2^31-1 and a socket it does not read, the proxy must stop reading the upstream once its
    /// output backlog is full rather than buffer the whole body. (The one wait for something not to
    /// happen: an upstream not held back sends 64 MB over loopback in well under the two seconds.)
    /// </summary>
    [Fact]
    public async Task Response_ClientWithHugeWindowsNotReading_TheUpstreamIsHeldBack_ThenTheBodyArrivesWhole()
    {
        const int total = 64 * 1024 * 1024;
        long sent = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            await c.ReadHeadAsync();
            await c.SendAsync($"HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n");
            var chunk = new byte[1024 * 1024];
            while (Interlocked.Read(ref sent) < total)
            {
                await c.Socket.SendAsync(chunk, SocketFlags.None);
                Interlocked.Add(ref sent, chunk.Length);
            }

            done.TrySetResult();
            await c.ClosedAsync(TimeSpan.FromSeconds(10));
        });
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port, settings: (SettingIds.InitialWindowSize, int.MaxValue));
        client.AutoWindowUpdate = false;
        await client.ReadPrefaceAsync();
        await client.SendWindowUpdateAsync(0, int.MaxValue - 65535);

        await client.SendHeadersAsync(1, H2Client.Request("/huge"));
        var heldBack = await Task.WhenAny(done.Task, Task.Delay(TimeSpan.FromSeconds(2))) != done.Task;
        Assert.True(heldBack, $"the upstream sent all {Interlocked.Read(ref sent)} bytes to a client that read none: the proxy buffered them");
        var response = await client.ReadResponseAsync(1);

        Assert.Equal(total, response.Body.Length);
    }

    [Fact]
    public async Task StreamWindowUpdate_Overflow_RstStreamFlowControlError_AndTheConnectionGoesOn()
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
        await client.SendWindowUpdateAsync(1, int.MaxValue); // 65535 + 2^31-1 > 2^31-1
        var reset = await client.ReadUntilAsync(f => f.StreamId == 1);

        Assert.Equal((FrameType.RstStream, Http2Error.FlowControlError), (reset!.Type, reset.ErrorCode));
        Assert.True(await closed.Task.WaitAsync(H2Client.Wait)); // the exchange stopped
        await client.SendHeadersAsync(3, H2Client.Request("/next"));
        Assert.Equal("ok", (await client.ReadResponseAsync(3)).BodyText);
    }

    [Fact]
    public async Task StreamWindowUpdate_OfZero_RstStreamProtocolError()
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
        await client.SendWindowUpdateAsync(1, 0);
        var reset = await client.ReadUntilAsync(f => f.StreamId == 1);

        Assert.Equal((FrameType.RstStream, Http2Error.ProtocolError), (reset!.Type, reset.ErrorCode));
    }

    /// <summary>
    /// A body the exchange never sends upstream (here: the upstream cannot be reached, and the error
    /// answer waits for the client's window while the body arrives) still gives the connection's
    /// window back when the stream ends; otherwise a few such streams would stall the connection.
    /// </summary>
    [Fact]
    public async Task RequestBody_NeverSentUpstream_TheConnectionWindowOpensAgain()
    {
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        await using var proxy = await H2Setup.StartAsync(new EndpointConfig("127.0.0.1", port));
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port, settings: (SettingIds.InitialWindowSize, 0));
        client.AutoWindowUpdate = false;
        await client.ReadPrefaceAsync();
        var body = new byte[Http2Connection.StreamWindow];
        long reopened = 0;

        for (var id = 1; id <= 7; id += 2) // four stream windows: the whole connection window
        {
            await client.SendHeadersAsync(id, H2Client.Request("/upload", "POST"), endStream: false);
            var stream = id;
            var head = await client.ReadUntilAsync(f => f.StreamId == stream);
            Assert.Equal(FrameType.Headers, head!.Type); // the error answer waits for a window
            await client.SendDataAsync(id, body);
            await client.SendWindowUpdateAsync(id, 1000);
            var response = await client.ReadResponseAsync(id);
            Assert.Null(response.Reset);
        }

        await Task.Run(async () =>
        {
            while (reopened < 4 * body.Length)
            {
                var frame = await client.ReadFrameAsync();
                Assert.NotNull(frame);
                if (frame.Type == FrameType.WindowUpdate && frame.StreamId == 0)
                {
                    reopened += frame.WindowIncrement;
                }
            }
        }).WaitAsync(H2Client.Wait);

        Assert.Equal(4 * body.Length, reopened);
    }
}
