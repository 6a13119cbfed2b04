using Trellis.Proxy.Http2;
using Trellis.Proxy.Tests.Http1;

namespace Trellis.Proxy.Tests.Http2;

/// <summary>The connection's own frames (RFC 9113 §3.4, §6): the preface, SETTINGS, PING, and the errors that end a connection.</summary>
public sealed class Http2ConnectionTests
{
    [Fact]
    public async Task Preface_ServerSendsSettingsThenConnectionWindowUpdateAndAcksOurs()
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(H2Setup.Ok));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint, new ProxyServerOptions { MaxHttp2StreamsPerConnection = 7 });
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);

        var settings = await client.ReadFrameAsync();
        var window = await client.ReadFrameAsync();
        var ack = await client.ReadFrameAsync();

        Assert.Equal((FrameType.Settings, 0, 0), (settings!.Type, settings.Flags, settings.StreamId));
        Assert.Equal((FrameType.WindowUpdate, 0), (window!.Type, window.StreamId));
        Assert.Equal(1024 * 1024 - 65535, window.WindowIncrement);
        Assert.Equal((FrameType.Settings, FrameFlags.Ack), (ack!.Type, ack.Flags));
        Assert.Empty(ack.Payload);
        client.Dispose();
        using var second = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        var values = await second.ReadPrefaceAsync();
        Assert.Equal(7u, values[SettingIds.MaxConcurrentStreams]);
        Assert.Equal((uint)Http2Connection.StreamWindow, values[SettingIds.InitialWindowSize]);
    }

    [Fact]
    public async Task Settings_LaterSettingsAndUnknownFrames_AreAckedAndIgnored()
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(H2Setup.Ok));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();

        await client.SendFrameAsync((FrameType)0xfa, 0xff, 0, [1, 2, 3]); // unknown type: ignored (§4.1)
        await client.SendSettingsAsync((0x99, 5), (SettingIds.HeaderTableSize, 0)); // unknown setting: ignored (§6.5.2)
        var ack = await client.ReadFrameAsync();
        await client.SendHeadersAsync(1, H2Client.Request());
        var response = await client.ReadResponseAsync(1);

        Assert.Equal((FrameType.Settings, FrameFlags.Ack), (ack!.Type, ack.Flags));
        Assert.Equal(200, response.Status);
        Assert.Equal("ok", response.BodyText);
    }

    [Fact]
    public async Task Ping_IsAnsweredWithTheSamePayload_AndAPingAckIsNotAnswered()
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(H2Setup.Ok));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();

        await client.SendFrameAsync(FrameType.Ping, FrameFlags.Ack, 0, [9, 9, 9, 9, 9, 9, 9, 9]);
        await client.SendFrameAsync(FrameType.Ping, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]);
        var pong = await client.ReadFrameAsync();

        Assert.Equal((FrameType.Ping, FrameFlags.Ack, 0), (pong!.Type, pong.Flags, pong.StreamId));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, pong.Payload);
    }

    [Fact]
    public async Task FirstFrame_NotSettings_GoAwayProtocolError()
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(H2Setup.Ok));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port, preface: false);

        await client.SendAsync([.. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8, .. H2Client.Frame(FrameType.Ping, 0, 0, new byte[8])]);
        var goAway = await client.ReadGoAwayAsync();

        Assert.Equal(Http2Error.ProtocolError, goAway.ErrorCode);
        Assert.Equal(H2End.Fin, await client.ClosedAsync());
    }

    public static TheoryData<string, byte[], uint> ConnectionErrors => new()
    {
        { "frame over 16384 bytes", H2Client.Frame(FrameType.Data, 0, 1, new byte[16385]), (uint)Http2Error.FrameSizeError },
        { "DATA on an idle stream", H2Client.Frame(FrameType.Data, 0, 1, "x"u8), (uint)Http2Error.ProtocolError },
        { "HEADERS on an even stream", H2Client.Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 2, H2Client.Encode(H2Client.Request())), (uint)Http2Error.ProtocolError },
        { "HEADERS on stream 0", H2Client.Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 0, H2Client.Encode(H2Client.Request())), (uint)Http2Error.ProtocolError },
        { "CONTINUATION without HEADERS", H2Client.Frame(FrameType.Continuation, FrameFlags.EndHeaders, 1, H2Client.Encode(H2Client.Request())), (uint)Http2Error.ProtocolError },
        {
            "PING inside a header block",
            [.. H2Client.Frame(FrameType.Headers, FrameFlags.EndStream, 1, H2Client.Encode(H2Client.Request())), .. H2Client.Frame(FrameType.Ping, 0, 0, new byte[8])],
            (uint)Http2Error.ProtocolError
        },
        {
            "CONTINUATION on another stream",
            [.. H2Client.Frame(FrameType.Headers, FrameFlags.EndStream, 1, H2Client.Encode(H2Client.Request())), .. H2Client.Frame(FrameType.Continuation, FrameFlags.EndHeaders, 3, [])],
            (uint)Http2Error.ProtocolError
        },
        { "HPACK index 0", H2Client.Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, [0x80]), (uint)Http2Error.CompressionError },
        { "HPACK index past the tables", H2Client.Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, [0xff, 0x7f]), (uint)Http2Error.CompressionError },
        { "HPACK string cut short", H2Client.Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, [0x00, 0x05, (byte)'a']), (uint)Http2Error.CompressionError },
        { "connection window over 2^31-1", H2Client.Frame(FrameType.WindowUpdate, 0, 0, [0x7f, 0xff, 0xff, 0xff]), (uint)Http2Error.FlowControlError },
        { "connection WINDOW_UPDATE of 0", H2Client.Frame(FrameType.WindowUpdate, 0, 0, [0, 0, 0, 0]), (uint)Http2Error.ProtocolError },
        { "WINDOW_UPDATE on an idle stream", H2Client.Frame(FrameType.WindowUpdate, 0, 5, [0, 0, 0, 1]), (uint)Http2Error.ProtocolError },
        { "RST_STREAM on an idle stream", H2Client.Frame(FrameType.RstStream, 0, 5, [0, 0, 0, 8]), (uint)Http2Error.ProtocolError },
        {
            "DATA on an even stream below the highest opened (the server's streams, never opened)",
            [.. H2Client.Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 3, H2Client.Encode(H2Client.Request())), .. H2Client.Frame(FrameType.Data, 0, 2, "x"u8)],
            (uint)Http2Error.ProtocolError
        },
        {
            "RST_STREAM on an even stream below the highest opened",
            [.. H2Client.Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 3, H2Client.Encode(H2Client.Request())), .. H2Client.Frame(FrameType.RstStream, 0, 2, [0, 0, 0, 8])],
            (uint)Http2Error.ProtocolError
        },
        { "GOAWAY of 7 bytes", H2Client.Frame(FrameType.GoAway, 0, 0, new byte[7]), (uint)Http2Error.FrameSizeError },
        { "GOAWAY of 0 bytes", H2Client.Frame(FrameType.GoAway, 0, 0, []), (uint)Http2Error.FrameSizeError },
        { "PING of 7 bytes", H2Client.Frame(FrameType.Ping, 0, 0, new byte[7]), (uint)Http2Error.FrameSizeError },
        { "PING on a stream", H2Client.Frame(FrameType.Ping, 0, 1, new byte[8]), (uint)Http2Error.ProtocolError },
        { "SETTINGS of 5 bytes", H2Client.Frame(FrameType.Settings, 0, 0, new byte[5]), (uint)Http2Error.FrameSizeError },
        { "SETTINGS_ENABLE_PUSH 2", H2Client.Frame(FrameType.Settings, 0, 0, [0, 2, 0, 0, 0, 2]), (uint)Http2Error.ProtocolError },
        { "SETTINGS_INITIAL_WINDOW_SIZE 2^31", H2Client.Frame(FrameType.Settings, 0, 0, [0, 4, 0x80, 0, 0, 0]), (uint)Http2Error.FlowControlError },
        { "SETTINGS_MAX_FRAME_SIZE 100", H2Client.Frame(FrameType.Settings, 0, 0, [0, 5, 0, 0, 0, 100]), (uint)Http2Error.ProtocolError },
        { "PUSH_PROMISE from a client", H2Client.Frame(FrameType.PushPromise, FrameFlags.EndHeaders, 1, [0, 0, 0, 2]), (uint)Http2Error.ProtocolError },
        { "padding longer than the payload", H2Client.Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream | FrameFlags.Padded, 1, [9, 0x82]), (uint)Http2Error.ProtocolError },
    };

    [Theory]
    [MemberData(nameof(ConnectionErrors))]
    public async Task ConnectionError_GoAwayWithTheCodeThenClose(string what, byte[] frames, uint expected)
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(H2Setup.Ok));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();

        await client.SendAsync(frames);
        var goAway = await client.ReadGoAwayAsync();

        Assert.True((Http2Error)expected == goAway.ErrorCode, $"{what}: {goAway.ErrorCode}");
        Assert.Equal(H2End.Fin, await client.ClosedAsync());
    }

    [Fact]
    public async Task HeaderBlock_SplitOverContinuations_IsServed()
    {
        await using var backend = RawUpstream.Start((head, _) => new RawAnswer(
            $"HTTP/1.1 200 OK\r\nContent-Length: {head.Split("\r\n")[0].Length}\r\n\r\n{head.Split("\r\n")[0]}"));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();
        var block = H2Client.Encode(H2Client.Request("/split", fields: ("x-long", new string('v', 3000))));

        await client.SendAsync([
            .. H2Client.Frame(FrameType.Headers, FrameFlags.EndStream, 1, block.AsSpan(0, 10)),
            .. H2Client.Frame(FrameType.Continuation, 0, 1, block.AsSpan(10, 1000)),
            .. H2Client.Frame(FrameType.Continuation, FrameFlags.EndHeaders, 1, block.AsSpan(1010)),
        ]);
        var response = await client.ReadResponseAsync(1);

        Assert.Equal("GET /split HTTP/1.1", response.BodyText);
    }
}
