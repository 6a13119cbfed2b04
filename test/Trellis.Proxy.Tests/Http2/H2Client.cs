using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Trellis.Proxy.Http2;
using Trellis.Proxy.Http2.Hpack;

namespace Trellis.Proxy.Tests.Http2;

/// <summary>One frame as read from the proxy.</summary>
internal sealed record H2Frame(FrameType Type, byte Flags, int StreamId, byte[] Payload)
{
    public bool Has(byte flag) => (Flags & flag) != 0;

    /// <summary>RST_STREAM's error code, or GOAWAY's (after its last stream id).</summary>
    public Http2Error ErrorCode => (Http2Error)BinaryPrimitives.ReadUInt32BigEndian(Type == FrameType.GoAway ? Payload.AsSpan(4) : Payload);

    public int GoAwayLastStream => BinaryPrimitives.ReadInt32BigEndian(Payload);

    public int WindowIncrement => BinaryPrimitives.ReadInt32BigEndian(Payload) & 0x7fffffff;

    public override string ToString() => $"{Type} flags={Flags:x} stream={StreamId} length={Payload.Length}";
}

/// <summary>A stream's answer as the raw client collected it.</summary>
internal sealed class H2Response
{
    public List<(string Name, string Value)> Headers { get; } = [];

    public List<(string Name, string Value)> Trailers { get; } = [];

    public MemoryStream Body { get; } = new();

    public List<int> DataSizes { get; } = [];

    /// <summary>The RST_STREAM code that ended the stream, if one did.</summary>
    public Http2Error? Reset { get; set; }

    public int Status => int.Parse(Header(":status")!, System.Globalization.CultureInfo.InvariantCulture);

    public string BodyText => Encoding.Latin1.GetString(Body.ToArray());

    public string? Header(string name) => Headers.FirstOrDefault(h => h.Name == name).Value;
}

/// <summary>
/// A test-only h2c (prior knowledge) client that writes and reads exact frames, for what HttpClient
/// never sends. Request fields are written as HPACK literals without indexing, names as given (so
/// a test can send what a real client would not); responses are decoded with the product's
/// <see cref="HpackDecoder"/>. Frames it is not waiting for are kept, in order, for later reads.
/// </summary>
/// <summary>How the proxy ended a connection: a FIN (an orderly close) or a reset.</summary>
internal enum H2End
{
    Fin,
    Reset,
}

internal sealed class H2Client : IDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly HpackDecoder _decoder = new(4096, 1024 * 1024);
    private readonly List<H2Frame> _unread = [];
    private bool _resetSeen;
    private readonly byte[] _header = new byte[FrameHeader.Size];

    private H2Client(Socket socket)
    {
        _socket = socket;
    }

    /// <summary>Send WINDOW_UPDATEs for every DATA frame read by <see cref="ReadResponseAsync"/> (the default), so large bodies flow.</summary>
    public bool AutoWindowUpdate { get; set; } = true;

    /// <summary>Frames read while waiting for others, not yet taken.</summary>
    public IReadOnlyList<H2Frame> Kept => _unread;

    /// <summary>Opens a connection and sends the preface and SETTINGS (with <paramref name="settings"/>) unless <paramref name="preface"/> is false.</summary>
    public static async Task<H2Client> ConnectAsync(int port, bool preface = true, params (ushort Id, uint Value)[] settings)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).WaitAsync(Wait);
        var client = new H2Client(socket);
        if (preface)
        {
            await client.SendAsync("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray());
            await client.SendSettingsAsync(settings);
        }

        return client;
    }

    public void Dispose() => _socket.Dispose();

    public async Task SendAsync(byte[] bytes)
    {
        var sent = 0;
        while (sent < bytes.Length)
        {
            sent += await _socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None).AsTask().WaitAsync(Wait);
        }
    }

    public static byte[] Frame(FrameType type, byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        var bytes = new byte[FrameHeader.Size + payload.Length];
        bytes[0] = (byte)(payload.Length >> 16);
        bytes[1] = (byte)(payload.Length >> 8);
        bytes[2] = (byte)payload.Length;
        bytes[3] = (byte)type;
        bytes[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(5), streamId);
        payload.CopyTo(bytes.AsSpan(FrameHeader.Size));
        return bytes;
    }

    public Task SendFrameAsync(FrameType type, byte flags, int streamId, ReadOnlySpan<byte> payload) =>
        SendAsync(Frame(type, flags, streamId, payload));

    public Task SendSettingsAsync(params (ushort Id, uint Value)[] settings)
    {
        var payload = new byte[6 * settings.Length];
        for (var i = 0; i < settings.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(6 * i), settings[i].Id);
            BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan((6 * i) + 2), settings[i].Value);
        }

        return SendFrameAsync(FrameType.Settings, 0, 0, payload);
    }

    public Task SendUInt32Async(FrameType type, int streamId, uint value)
    {
        var payload = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(payload, value);
        return SendFrameAsync(type, 0, streamId, payload);
    }

    public Task SendWindowUpdateAsync(int streamId, int increment) => SendUInt32Async(FrameType.WindowUpdate, streamId, (uint)increment);

    public Task SendResetAsync(int streamId, Http2Error error) => SendUInt32Async(FrameType.RstStream, streamId, (uint)error);

    /// <summary>A request's pseudo-header fields, then <paramref name="fields"/>: GET unless <paramref name="method"/> says otherwise.</summary>
    public static (string, string)[] Request(string path = "/", string method = "GET", params (string, string)[] fields) =>
        [(":method", method), (":scheme", "http"), (":authority", "a"), (":path", path), .. fields];

    public Task SendHeadersAsync(int streamId, (string Name, string Value)[] fields, bool endStream = true) =>
        SendFrameAsync(FrameType.Headers, (byte)(FrameFlags.EndHeaders | (endStream ? FrameFlags.EndStream : 0)), streamId, Encode(fields));

    /// <summary>DATA frames of at most 16384 bytes each, the last with END_STREAM when <paramref name="endStream"/>.</summary>
    public async Task SendDataAsync(int streamId, byte[] data, bool endStream = true)
    {
        var at = 0;
        do
        {
            var size = Math.Min(data.Length - at, FrameHeader.MaxPayload);
            var last = at + size == data.Length;
            await SendFrameAsync(FrameType.Data, last && endStream ? FrameFlags.EndStream : (byte)0, streamId, data.AsSpan(at, size));
            at += size;
        }
        while (at < data.Length);
    }

    /// <summary>Literals without indexing and without Huffman coding (RFC 7541 §6.2.2), names as given.</summary>
    public static byte[] Encode(params (string Name, string Value)[] fields)
    {
        var output = new List<byte>();
        foreach (var (name, value) in fields)
        {
            output.Add(0);
            AppendString(output, name);
            AppendString(output, value);
        }

        return [.. output];
    }

    private static void AppendString(List<byte> output, string text)
    {
        var bytes = Encoding.Latin1.GetBytes(text);
        var length = bytes.Length;
        if (length < 127)
        {
            output.Add((byte)length);
        }
        else
        {
            output.Add(127);
            length -= 127;
            while (length >= 128)
            {
                output.Add((byte)((length & 0x7f) | 0x80));
                length >>= 7;
            }

            output.Add((byte)length);
        }

        output.AddRange(bytes);
    }

    public List<(string Name, string Value)> Decode(byte[] block)
    {
        var sink = new Sink();
        _decoder.Decode(block, sink);
        return sink.Fields;
    }

    /// <summary>The next frame (kept ones first); fails the test if none comes within the wait, null when the proxy closed the connection.</summary>
    public async Task<H2Frame?> ReadFrameAsync()
    {
        if (_unread.Count > 0)
        {
            var kept = _unread[0];
            _unread.RemoveAt(0);
            return kept;
        }

        return await ReadFromSocketAsync();
    }

    /// <summary>The first frame matching <paramref name="match"/>; the others read meanwhile are kept. Null when the connection closed first.</summary>
    public async Task<H2Frame?> ReadUntilAsync(Func<H2Frame, bool> match)
    {
        var index = _unread.FindIndex(f => match(f));
        if (index >= 0)
        {
            var kept = _unread[index];
            _unread.RemoveAt(index);
            return kept;
        }

        while (await ReadFromSocketAsync() is { } frame)
        {
            if (match(frame))
            {
                return frame;
            }

            _unread.Add(frame);
        }

        return null;
    }

    /// <summary>Reads the server preface (SETTINGS, then the connection's WINDOW_UPDATE) and the ACK of ours; returns the server's SETTINGS.</summary>
    public async Task<Dictionary<ushort, uint>> ReadPrefaceAsync()
    {
        var settings = await ReadUntilAsync(f => f.Type == FrameType.Settings && !f.Has(FrameFlags.Ack));
        Assert.NotNull(settings);
        Assert.NotNull(await ReadUntilAsync(f => f.Type == FrameType.WindowUpdate && f.StreamId == 0));
        Assert.NotNull(await ReadUntilAsync(f => f.Type == FrameType.Settings && f.Has(FrameFlags.Ack)));
        var values = new Dictionary<ushort, uint>();
        for (var i = 0; i < settings.Payload.Length; i += 6)
        {
            values[BinaryPrimitives.ReadUInt16BigEndian(settings.Payload.AsSpan(i))] = BinaryPrimitives.ReadUInt32BigEndian(settings.Payload.AsSpan(i + 2));
        }

        return values;
    }

    /// <summary>The GOAWAY that ends the connection (frames before it are dropped).</summary>
    public async Task<H2Frame> ReadGoAwayAsync()
    {
        var frame = await ReadUntilAsync(f => f.Type == FrameType.GoAway);
        Assert.True(frame is not null, "the connection closed without GOAWAY");
        return frame;
    }

    /// <summary>
    /// Reads (and drops) frames until the proxy has closed the connection, and says how: with a FIN, or
    /// with a reset (now or at an earlier read). Throws when the connection is still open after <see cref="Wait"/>.
    /// </summary>
    public async Task<H2End> ClosedAsync()
    {
        _unread.Clear();
        try
        {
            while (await ReadFromSocketAsync() is not null)
            {
            }
        }
        catch (SocketException)
        {
            return H2End.Reset;
        }

        return _resetSeen ? H2End.Reset : H2End.Fin;
    }

    /// <summary>Collects stream <paramref name="streamId"/>'s HEADERS, DATA and trailers until END_STREAM or RST_STREAM.</summary>
    public async Task<H2Response> ReadResponseAsync(int streamId)
    {
        var response = new H2Response();
        var headersDone = false;
        while (true)
        {
            var frame = await ReadUntilAsync(f => f.StreamId == streamId);
            Assert.True(frame is not null, $"the connection closed before stream {streamId} ended");
            switch (frame.Type)
            {
                case FrameType.Headers:
                    Assert.True(frame.Has(FrameFlags.EndHeaders), "CONTINUATION is not expected in these tests");
                    var fields = Decode(frame.Payload);
                    if (!headersDone && fields.Any(f => f is (":status", ['1', _, _])))
                    {
                        break; // an interim response
                    }

                    (headersDone ? response.Trailers : response.Headers).AddRange(fields);
                    headersDone = true;
                    break;
                case FrameType.Data:
                    response.Body.Write(frame.Payload);
                    response.DataSizes.Add(frame.Payload.Length);
                    if (AutoWindowUpdate && frame.Payload.Length > 0)
                    {
                        await UpdateWindowsAsync(streamId, frame);
                    }

                    break;
                case FrameType.RstStream:
                    response.Reset = frame.ErrorCode;
                    return response;
                default:
                    break;
            }

            if (frame.Type is FrameType.Headers or FrameType.Data && frame.Has(FrameFlags.EndStream))
            {
                return response;
            }
        }
    }

    private async Task UpdateWindowsAsync(int streamId, H2Frame data)
    {
        try
        {
            await SendWindowUpdateAsync(0, data.Payload.Length);
            if (!data.Has(FrameFlags.EndStream))
            {
                await SendWindowUpdateAsync(streamId, data.Payload.Length);
            }
        }
        catch (SocketException)
        {
            // The proxy may close a connection it is done with before these arrive.
        }
    }

    private async Task<H2Frame?> ReadFromSocketAsync()
    {
        if (!await FillAsync(_header))
        {
            return null;
        }

        var header = FrameHeader.Read(_header);
        var payload = new byte[header.Length];
        if (!await FillAsync(payload))
        {
            return null;
        }

        return new H2Frame(header.Type, header.Flags, header.StreamId, payload);
    }

    private async Task<bool> FillAsync(byte[] buffer)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            int read;
            try
            {
                read = await _socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None).AsTask().WaitAsync(Wait);
            }
            catch (SocketException) when (filled == 0 && buffer == _header)
            {
                _resetSeen = true;
                return false; // reset by the proxy
            }

            if (read == 0)
            {
                return false;
            }

            filled += read;
        }

        return true;
    }

    private sealed class Sink : IHpackSink
    {
        public List<(string Name, string Value)> Fields { get; } = [];

        public void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) =>
            Fields.Add((Encoding.Latin1.GetString(name), Encoding.Latin1.GetString(value)));
    }
}
