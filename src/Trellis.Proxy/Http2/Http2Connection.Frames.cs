using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Trellis.Proxy.Http1;
using Trellis.Proxy.Http2.Hpack;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Http2;

/// <summary>The read side, frame by frame (RFC 9113 §6): what each frame does to the connection and its streams.</summary>
internal sealed partial class Http2Connection
{
    private void OnFrame(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (_continuationExpected && header.Type != FrameType.Continuation)
        {
            throw new Http2ConnectionException(Http2Error.ProtocolError, $"a {header.Type} frame inside a header block");
        }

        switch (header.Type)
        {
            case FrameType.Data:
                OnData(header, payload);
                break;
            case FrameType.Headers:
                OnHeaders(header, payload);
                break;
            case FrameType.Continuation:
                OnContinuation(header, payload);
                break;
            case FrameType.Priority:
                OnPriority(header);
                break;
            case FrameType.RstStream:
                OnRstStream(header);
                break;
            case FrameType.Settings:
                OnSettings(header, payload);
                break;
            case FrameType.Ping:
                OnPing(header, payload);
                break;
            case FrameType.GoAway:
                OnGoAway(header);
                break;
            case FrameType.WindowUpdate:
                OnWindowUpdate(header, payload);
                break;
            case FrameType.PushPromise:
                throw new Http2ConnectionException(Http2Error.ProtocolError, "a client must not send PUSH_PROMISE");
            default:
                break; // unknown frame types are ignored (RFC 9113 §4.1)
        }
    }

    private static void RequireConnectionFrame(in FrameHeader header)
    {
        if (header.StreamId != 0)
        {
            throw new Http2ConnectionException(Http2Error.ProtocolError, $"{header.Type} on stream {header.StreamId}: it belongs to stream 0");
        }
    }

    private static void RequireStreamFrame(in FrameHeader header)
    {
        if (header.StreamId == 0)
        {
            throw new Http2ConnectionException(Http2Error.ProtocolError, $"{header.Type} on stream 0");
        }
    }

    /// <summary>A stream the client has not opened (RFC 9113 §5.1.1): above the highest it opened, or even (the server's, and this one never pushes).</summary>
    private bool IsIdle(int streamId) => streamId > _lastStreamId || (streamId & 1) == 0;

    /// <summary>The payload without its padding (PADDED flag: a length byte first, that many bytes last).</summary>
    private static ReadOnlySpan<byte> Unpad(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (!header.Has(FrameFlags.Padded))
        {
            return payload;
        }

        if (payload.IsEmpty || payload[0] >= payload.Length)
        {
            throw new Http2ConnectionException(Http2Error.ProtocolError, $"{header.Type} padding longer than its payload");
        }

        return payload[1..^payload[0]];
    }

    private void OnHeaders(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        RequireStreamFrame(header);
        if ((header.StreamId & 1) == 0)
        {
            throw new Http2ConnectionException(Http2Error.ProtocolError, $"stream {header.StreamId}: client streams are odd");
        }

        var fragment = Unpad(header, payload);
        if (header.Has(FrameFlags.Priority))
        {
            if (fragment.Length < 5)
            {
                throw new Http2ConnectionException(Http2Error.FrameSizeError, "HEADERS too short for its priority fields");
            }

            fragment = fragment[5..]; // priorities are advisory; this server does not use them
        }

        _blockStream = header.StreamId;
        _blockEndStream = header.Has(FrameFlags.EndStream);
        if (header.Has(FrameFlags.EndHeaders))
        {
            OnHeaderBlock(fragment);
            return;
        }

        _headerBlock.Clear();
        _headerBlock.Append(fragment);
        _continuationExpected = true;
    }

    private void OnContinuation(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (!_continuationExpected || header.StreamId != _blockStream)
        {
            throw new Http2ConnectionException(Http2Error.ProtocolError, "CONTINUATION without a header block in progress on its stream");
        }

        if (_headerBlock.Length + payload.Length > MaxHeaderBlock)
        {
            throw new Http2ConnectionException(Http2Error.EnhanceYourCalm, $"a header block over {MaxHeaderBlock} bytes");
        }

        _headerBlock.Append(payload);
        if (header.Has(FrameFlags.EndHeaders))
        {
            _continuationExpected = false;
            OnHeaderBlock(_headerBlock.Written.Span);
        }
    }

    private void OnHeaderBlock(ReadOnlySpan<byte> block)
    {
        var id = _blockStream;
        if (id <= _lastStreamId)
        {
            // Trailers of a stream whose request is still open, or a stream that is over.
            lock (_streams)
            {
                var open = _streams.GetValueOrDefault(id);
                if (open is null || open.IsReset)
                {
                    // Over here: refused, reset, or answered early while the client was still sending.
                    // What it sent before it knew is ignored (RFC 9113 §5.1); which streams ended with
                    // the client's END_STREAM is not remembered, so those get the same leniency.
                    Decode(block, DiscardingSink.Instance);
                    return;
                }

                if (open.RequestEnded)
                {
                    Decode(block, DiscardingSink.Instance);
                    throw new Http2ConnectionException(Http2Error.StreamClosed, $"HEADERS on closed stream {id}");
                }

                Decode(block, open.Trailers);
                open.OnTrailers(_blockEndStream);
            }

            return;
        }

        _lastStreamId = id;
        Http2Stream? stream = null;
        lock (_streams)
        {
            if (!_draining && _streams.Count < Services.Options.MaxHttp2StreamsPerConnection)
            {
                stream = _idleStreams.Count > 0 ? _idleStreams.Pop() : new Http2Stream(this);
            }
        }

        if (stream is null)
        {
            Decode(block, DiscardingSink.Instance);
            if (!_draining && ++_refusedInARow > MaxRefusedInARow)
            {
                throw new Http2ConnectionException(Http2Error.EnhanceYourCalm, "too many streams over the concurrency limit");
            }

            WriteRstStream(id, Http2Error.RefusedStream);
            return;
        }

        _refusedInARow = 0;
        stream.Open(id, InitialSendWindow, _blockEndStream);
        var result = Decode(block, stream); // a malformed block ends the connection before the stream joins the table
        lock (_streams)
        {
            _streams.Add(id, stream); // from here on the stream ends only by StreamEnded, which the connection's end waits for
        }

        stream.Start(result == HpackResult.HeaderListTooLarge);
    }

    private HpackResult Decode(ReadOnlySpan<byte> block, IHpackSink sink)
    {
        try
        {
            return _decoder.Decode(block, sink);
        }
        catch (HpackException ex)
        {
            throw new Http2ConnectionException(Http2Error.CompressionError, ex.Message);
        }
    }

    private void OnData(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        RequireStreamFrame(header);
        if (IsIdle(header.StreamId))
        {
            throw new Http2ConnectionException(Http2Error.ProtocolError, $"DATA on idle stream {header.StreamId}");
        }

        // Flow control counts the whole payload, padding included (RFC 9113 §6.9.1).
        if (header.Length > Volatile.Read(ref _receiveWindow))
        {
            throw new Http2ConnectionException(Http2Error.FlowControlError, "DATA beyond the connection's window");
        }

        Interlocked.Add(ref _receiveWindow, -header.Length);
        var data = Unpad(header, payload);
        lock (_streams)
        {
            var stream = _streams.GetValueOrDefault(header.StreamId);
            if (stream is null || stream.IsReset)
            {
                // Closed (RFC 9113 §5.1, §6.1): DATA after a reset of ours was on its way and MUST be
                // ignored; on any other closed stream (the client reset it, or it ended) it is a stream
                // error STREAM_CLOSED, answered once (that answer is a reset of ours). Either way the
                // DATA counts against the connection window (§6.9) and is given back here.
                Consumed(header.Length);
                if (!WasResetHere(header.StreamId))
                {
                    WriteRstStream(header.StreamId, Http2Error.StreamClosed);
                }

                return;
            }

            if (stream.RequestEnded)
            {
                // Half-closed (remote): DATA after the client's END_STREAM is a stream error STREAM_CLOSED
                // (§5.1, §6.1). Fail stops the exchange too, so that nothing of the stream follows the RST_STREAM.
                Consumed(header.Length);
                stream.Fail(Http2Error.StreamClosed);
                return;
            }

            Consumed(header.Length - data.Length); // padding is never buffered
            stream.OnData(data, header.Length - data.Length, header.Has(FrameFlags.EndStream));
        }
    }

    /// <summary>
    /// Request body bytes that have left the connection (sent upstream, or dropped): the connection
    /// window opens again, in steps of half the window so that updates stay few.
    /// </summary>
    internal void Consumed(int bytes)
    {
        if (bytes <= 0)
        {
            return;
        }

        if (Interlocked.Add(ref _unackedReceived, bytes) < ConnectionWindow / 2)
        {
            return;
        }

        var increment = Interlocked.Exchange(ref _unackedReceived, 0);
        if (increment > 0)
        {
            Interlocked.Add(ref _receiveWindow, increment);
            WriteWindowUpdate(0, increment);
        }
    }

    private void OnPriority(in FrameHeader header)
    {
        RequireStreamFrame(header);
        if (header.Length == 5)
        {
            return;
        }

        lock (_streams)
        {
            if (_streams.GetValueOrDefault(header.StreamId) is { } stream)
            {
                stream.Fail(Http2Error.FrameSizeError); // marked reset first, so none of its frames follows the RST_STREAM
                return;
            }
        }

        WriteRstStream(header.StreamId, Http2Error.FrameSizeError);
    }

    private void OnRstStream(in FrameHeader header)
    {
        RequireStreamFrame(header);
        if (header.Length != 4)
        {
            throw new Http2ConnectionException(Http2Error.FrameSizeError, "RST_STREAM must be 4 bytes");
        }

        if (IsIdle(header.StreamId))
        {
            throw new Http2ConnectionException(Http2Error.ProtocolError, $"RST_STREAM on idle stream {header.StreamId}");
        }

        lock (_streams)
        {
            _streams.GetValueOrDefault(header.StreamId)?.OnReset();
        }
    }

    private void OnGoAway(in FrameHeader header)
    {
        RequireConnectionFrame(header);
        if (header.Length < 8)
        {
            // The last stream id and the error code are not optional (RFC 9113 §6.8); a frame that
            // concerns the whole connection with a bad size is a connection error (§4.2).
            throw new Http2ConnectionException(Http2Error.FrameSizeError, "GOAWAY shorter than 8 bytes");
        }

        BeginDrain(); // the client sends no more streams; the ones running finish
    }

    private void OnSettings(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        RequireConnectionFrame(header);
        if (header.Has(FrameFlags.Ack))
        {
            if (header.Length != 0)
            {
                throw new Http2ConnectionException(Http2Error.FrameSizeError, "SETTINGS acknowledgement with a payload");
            }

            return;
        }

        if (header.Length % 6 != 0)
        {
            throw new Http2ConnectionException(Http2Error.FrameSizeError, "SETTINGS payload not a multiple of 6 bytes");
        }

        for (var i = 0; i < payload.Length; i += 6)
        {
            var id = BinaryPrimitives.ReadUInt16BigEndian(payload[i..]);
            var value = BinaryPrimitives.ReadUInt32BigEndian(payload[(i + 2)..]);
            switch (id)
            {
                case SettingIds.EnablePush when value > 1:
                    throw new Http2ConnectionException(Http2Error.ProtocolError, "SETTINGS_ENABLE_PUSH must be 0 or 1");
                case SettingIds.InitialWindowSize when value > FrameHeader.MaxWindow:
                    throw new Http2ConnectionException(Http2Error.FlowControlError, "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1");
                case SettingIds.InitialWindowSize:
                    SetInitialSendWindow((int)value);
                    break;
                case SettingIds.MaxFrameSize when value is < FrameHeader.MaxPayload or > 0xffffff:
                    throw new Http2ConnectionException(Http2Error.ProtocolError, "SETTINGS_MAX_FRAME_SIZE out of range");
                default:
                    // The header table size does not matter to an encoder that never indexes; frames
                    // written here never exceed the smallest maximum size; the rest concern pushes.
                    break;
            }
        }

        WriteFrame(FrameType.Settings, FrameFlags.Ack, 0, []);
    }

    private void OnPing(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        RequireConnectionFrame(header);
        if (header.Length != 8)
        {
            throw new Http2ConnectionException(Http2Error.FrameSizeError, "PING must be 8 bytes");
        }

        if (!header.Has(FrameFlags.Ack))
        {
            WriteFrame(FrameType.Ping, FrameFlags.Ack, 0, payload);
        }
    }

    private void OnWindowUpdate(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Length != 4)
        {
            throw new Http2ConnectionException(Http2Error.FrameSizeError, "WINDOW_UPDATE must be 4 bytes");
        }

        var increment = (int)(BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7fffffff);
        if (header.StreamId == 0)
        {
            if (increment == 0)
            {
                throw new Http2ConnectionException(Http2Error.ProtocolError, "WINDOW_UPDATE of 0 on the connection");
            }

            OpenConnectionWindow(increment);
            return;
        }

        if (IsIdle(header.StreamId))
        {
            throw new Http2ConnectionException(Http2Error.ProtocolError, $"WINDOW_UPDATE on idle stream {header.StreamId}");
        }

        lock (_streams)
        {
            if (_streams.GetValueOrDefault(header.StreamId) is not { } stream)
            {
                return;
            }

            if (increment == 0)
            {
                stream.Fail(Http2Error.ProtocolError);
                return;
            }

            OpenStreamWindow(stream, increment);
        }
    }

    /// <summary>Fields of a header block nobody will use, decoded only to keep the HPACK table in step.</summary>
    private sealed class DiscardingSink : IHpackSink
    {
        public static readonly DiscardingSink Instance = new();

        public void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
        {
        }
    }
}
