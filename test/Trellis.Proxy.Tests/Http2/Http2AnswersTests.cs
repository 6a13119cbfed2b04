using Trellis.Proxy.Http2;
using Trellis.Proxy.Tests.Http1;

namespace Trellis.Proxy.Tests.Http2;

/// <summary>
/// What the HTTP/2 fast path answers itself, as Kestrel would: requests it does not forward (417,
/// 501, 431), a header block too large to keep decoding, and <c>Expect: 100-continue</c>.
/// </summary>
public sealed class Http2AnswersTests
{
    public static TheoryData<string, string[], int> Unforwarded => new()
    {
        { "an expectation other than 100-continue", [":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/", "expect", "x-later"], 417 },
        { "CONNECT", [":method", "CONNECT", ":authority", "a:443"], 501 },
    };

    [Theory]
    [MemberData(nameof(Unforwarded))]
    public async Task Request_NotForwarded_AnsweredWithKestrelsStatus_AndTheConnectionGoesOn(string what, string[] fields, int status)
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(H2Setup.Ok));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();

        await client.SendHeadersAsync(1, [.. Enumerable.Range(0, fields.Length / 2).Select(i => (fields[2 * i], fields[(2 * i) + 1]))]);
        var answered = await client.ReadResponseAsync(1);
        await client.SendHeadersAsync(3, H2Client.Request("/good"));
        var good = await client.ReadResponseAsync(3);

        Assert.True(status == answered.Status, $"{what}: {answered.Status}");
        Assert.Equal("ok", good.BodyText);
        Assert.Single(backend.Heads); // only the good request reached the upstream
    }

    [Fact]
    public async Task HeaderList_OverTheAdvertisedLimit_Answers431_AndTheConnectionGoesOn()
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(H2Setup.Ok));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();
        var big = new string('v', 4000);
        var block = H2Client.Encode(H2Client.Request("/", "GET", [.. Enumerable.Range(0, 9).Select(i => ($"x-big-{i}", big))])); // about 36 KiB > 32 KiB

        await client.SendAsync(InFrames(1, block));
        var answered = await client.ReadResponseAsync(1);
        await client.SendHeadersAsync(3, H2Client.Request("/good"));
        var good = await client.ReadResponseAsync(3);

        Assert.Equal(431, answered.Status);
        Assert.Equal("ok", good.BodyText);
        Assert.Single(backend.Heads);
    }

    [Fact]
    public async Task HeaderBlock_Over64KiB_GoAwayEnhanceYourCalm()
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(H2Setup.Ok));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();
        var big = new string('v', 10_000);
        var block = H2Client.Encode(H2Client.Request("/", "GET", [.. Enumerable.Range(0, 7).Select(i => ($"x-big-{i}", big))]));

        await client.SendAsync(InFrames(1, block));
        var goAway = await client.ReadGoAwayAsync();

        Assert.Equal(Http2Error.EnhanceYourCalm, goAway.ErrorCode);
        Assert.Empty(backend.Heads);
    }

    [Fact]
    public async Task Expect100Continue_AnsweredByTheProxy_BodyThenReachesTheUpstreamWithoutTheExpectation()
    {
        await using var backend = RawUpstream.Start((_, _) => new RawAnswer(H2Setup.Ok));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();

        await client.SendHeadersAsync(1, H2Client.Request("/up", "POST", ("content-length", "2"), ("expect", "100-continue")), endStream: false);
        var interim = await client.ReadUntilAsync(f => f.StreamId == 1);
        await client.SendDataAsync(1, "hi"u8.ToArray());
        var response = await client.ReadResponseAsync(1);

        Assert.Equal(FrameType.Headers, interim!.Type);
        Assert.Equal([(":status", "100")], client.Decode(interim.Payload));
        Assert.Equal("ok", response.BodyText);
        var head = Assert.Single(backend.Heads);
        Assert.DoesNotContain("expect", head, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("content-length: 2", head, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A header block as one HEADERS (END_STREAM) and as many CONTINUATION frames as the 16384-byte frame limit needs.</summary>
    private static byte[] InFrames(int streamId, byte[] block)
    {
        var frames = new List<byte>();
        for (var at = 0; at < block.Length; at += FrameHeader.MaxPayload)
        {
            var size = Math.Min(FrameHeader.MaxPayload, block.Length - at);
            var last = at + size == block.Length;
            var type = at == 0 ? FrameType.Headers : FrameType.Continuation;
            var flags = (byte)((at == 0 ? FrameFlags.EndStream : 0) | (last ? FrameFlags.EndHeaders : 0));
            frames.AddRange(H2Client.Frame(type, flags, streamId, block.AsSpan(at, size)));
        }

        return [.. frames];
    }
}
