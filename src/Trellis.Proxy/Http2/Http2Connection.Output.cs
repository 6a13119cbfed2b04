using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Trellis.Proxy.Http1;

namespace Trellis.Proxy.Http2;

/// <summary>
/// The write side: frames from the read loop and from every stream go into one buffer under a
/// lock; whoever finds no send in progress sends it, and frames added meanwhile go out with the
/// next send, so concurrent streams share system calls. The send windows (RFC 9113 §6.9) live
/// under the same lock, so a DATA frame is written only within them.
/// </summary>
internal sealed partial class Http2Connection
{
    /// <summary>Bytes waiting to be sent beyond which writers (and the read loop) wait for the client to read.</summary>
    private const int OutputBacklogLimit = 256 * 1024;

    /// <summary>
    /// The most one socket send carries, so that a slow reader's progress shows within a send (the
    /// socket completes a send only when it has taken all of it). Sends are larger only when output
    /// has backed up, where the extra system calls cost nothing that matters.
    /// </summary>
    private const int SendSlice = 16 * 1024;

    private readonly Lock _output = new();
    private HeadBuilder _pending;
    private HeadBuilder _sending;
    private bool _flushing;
    private bool _closeAfterFlush;
    private long _finishedAt; // when FinishOutput sent the FIN; 0 before
    private bool _outputClosed;
    private TaskCompletionSource? _belowLimit;
    private TaskCompletionSource? _allSent;

    // Progress, counted rather than timed so the send path reads no clock (see Stalled): slices the
    // socket has taken (written by the one send loop running), DATA writes (under _output).
    private int _slicesSent;
    private int _dataWrites;

    // Under _output: the streams this server reset last. The client's frames already on their way
    // on such a stream MUST be ignored (RFC 9113 §5.1), while DATA on any other closed stream draws
    // RST_STREAM STREAM_CLOSED (§6.1). Only a recent reset has frames in flight, so a few suffice; an
    // older one gets the STREAM_CLOSED answer, which a client ignores on a stream it has closed.
    private readonly int[] _resetHere = new int[16];
    private int _resetHereNext;

    // Under _output: the client's windows for what this server sends.
    private int _sendWindow = DefaultWindow;
    private int _initialSendWindow = DefaultWindow;
    private readonly List<Http2Stream> _blockedOnConnection = [];

    private int InitialSendWindow
    {
        get
        {
            lock (_output)
            {
                return _initialSendWindow;
            }
        }
    }

    private void WriteServerPreface()
    {
        lock (_output)
        {
            FrameHeader.Write(_pending, 18, FrameType.Settings, 0, 0);
            AppendSetting(SettingIds.MaxConcurrentStreams, (uint)Services.Options.MaxHttp2StreamsPerConnection);
            AppendSetting(SettingIds.InitialWindowSize, StreamWindow);
            AppendSetting(SettingIds.MaxHeaderListSize, MaxHeaderListSize);
            FrameHeader.WriteUInt32Frame(_pending, FrameType.WindowUpdate, 0, ConnectionWindow - DefaultWindow);
        }

        Flush();
    }

    private void AppendSetting(ushort id, uint value)
    {
        var span = _pending.GetSpan(6);
        BinaryPrimitives.WriteUInt16BigEndian(span, id);
        BinaryPrimitives.WriteUInt32BigEndian(span[2..], value);
        _pending.Advance(6);
    }

    private void WriteFrame(FrameType type, byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        lock (_output)
        {
            if (_outputClosed)
            {
                return;
            }

            FrameHeader.Write(_pending, payload.Length, type, flags, streamId);
            _pending.Append(payload);
        }

        Flush();
    }

    internal void WriteRstStream(int streamId, Http2Error error)
    {
        lock (_output)
        {
            _resetHere[_resetHereNext] = streamId;
            _resetHereNext = (_resetHereNext + 1) % _resetHere.Length;
        }

        WriteUInt32Frame(FrameType.RstStream, streamId, (uint)error);
    }

    /// <summary>Whether this server recently sent RST_STREAM on <paramref name="streamId"/> (see <see cref="_resetHere"/>).</summary>
    private bool WasResetHere(int streamId)
    {
        lock (_output)
        {
            return Array.IndexOf(_resetHere, streamId) >= 0;
        }
    }

    internal void WriteWindowUpdate(int streamId, int increment) => WriteUInt32Frame(FrameType.WindowUpdate, streamId, (uint)increment);

    private void WriteUInt32Frame(FrameType type, int streamId, uint value)
    {
        lock (_output)
        {
            if (_outputClosed)
            {
                return;
            }

            FrameHeader.WriteUInt32Frame(_pending, type, streamId, value);
        }

        Flush();
    }

    private void WriteGoAway(int lastStreamId, Http2Error error, string? debug = null)
    {
        var payload = new byte[8 + (debug is null ? 0 : Encoding.UTF8.GetByteCount(debug))];
        BinaryPrimitives.WriteInt32BigEndian(payload, lastStreamId);
        BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan(4), (uint)error);
        if (debug is not null)
        {
            Encoding.UTF8.GetBytes(debug, payload.AsSpan(8));
        }

        WriteFrame(FrameType.GoAway, 0, 0, payload);
    }

    /// <summary>A header block as HEADERS plus CONTINUATION frames as needed; false when the stream is reset (nothing written).</summary>
    internal bool WriteHeaders(Http2Stream stream, ReadOnlySpan<byte> block, bool endStream)
    {
        lock (_output)
        {
            if (_outputClosed || stream.IsReset)
            {
                return false;
            }

            AppendHeaders(stream.Id, block, endStream);
        }

        Flush();
        return true;
    }

    /// <summary>
    /// Writes as much of <paramref name="data"/> as the windows allow right now (END_STREAM with the
    /// last byte when <paramref name="endStream"/>); returns how much, or -1 when the stream is reset.
    /// A stream that got less than it asked for has been registered to be woken when a window opens:
    /// it then awaits <see cref="Http2Stream.WindowOpened"/> and calls again. <paramref name="headers"/>,
    /// when not empty, goes first, in the same send: most responses are one HEADERS and one DATA frame.
    /// </summary>
    internal int WriteData(Http2Stream stream, ReadOnlySpan<byte> headers, ReadOnlySpan<byte> data, bool endStream)
    {
        int written;
        lock (_output)
        {
            if (_outputClosed || stream.IsReset)
            {
                return -1;
            }

            if (!headers.IsEmpty)
            {
                AppendHeaders(stream.Id, headers, endStream: false);
            }

            written = 0;
            if (data.IsEmpty)
            {
                if (endStream)
                {
                    FrameHeader.Write(_pending, 0, FrameType.Data, FrameFlags.EndStream, stream.Id);
                }
            }
            else
            {
                while (written < data.Length)
                {
                    var size = Math.Min(Math.Min(data.Length - written, FrameHeader.MaxPayload), Math.Min(_sendWindow, stream.SendWindow));
                    if (size <= 0)
                    {
                        stream.WaitForWindow();
                        if (_sendWindow <= 0)
                        {
                            _blockedOnConnection.Add(stream);
                        }

                        break;
                    }

                    var last = endStream && written + size == data.Length;
                    FrameHeader.Write(_pending, size, FrameType.Data, last ? FrameFlags.EndStream : (byte)0, stream.Id);
                    _pending.Append(data.Slice(written, size));
                    written += size;
                    _sendWindow -= size;
                    stream.SendWindow -= size;
                }

                if (written > 0)
                {
                    _dataWrites++;
                }
            }
        }

        Flush();
        return written;
    }

    private void AppendHeaders(int streamId, ReadOnlySpan<byte> block, bool endStream)
    {
        var flags = endStream ? FrameFlags.EndStream : (byte)0;
        var first = Math.Min(block.Length, FrameHeader.MaxPayload);
        FrameHeader.Write(_pending, first, FrameType.Headers, (byte)(flags | (first == block.Length ? FrameFlags.EndHeaders : 0)), streamId);
        _pending.Append(block[..first]);
        for (var at = first; at < block.Length;)
        {
            var size = Math.Min(block.Length - at, FrameHeader.MaxPayload);
            FrameHeader.Write(_pending, size, FrameType.Continuation, at + size == block.Length ? FrameFlags.EndHeaders : (byte)0, streamId);
            _pending.Append(block.Slice(at, size));
            at += size;
        }
    }

    private void OpenConnectionWindow(int increment)
    {
        Http2Stream[] woken;
        lock (_output)
        {
            if ((long)_sendWindow + increment > FrameHeader.MaxWindow)
            {
                throw new Http2ConnectionException(Http2Error.FlowControlError, "the connection's window above 2^31-1");
            }

            _sendWindow += increment;
            woken = [.. _blockedOnConnection];
            _blockedOnConnection.Clear();
        }

        foreach (var stream in woken)
        {
            stream.WindowMayHaveOpened();
        }
    }

    private void OpenStreamWindow(Http2Stream stream, int increment)
    {
        lock (_output)
        {
            if ((long)stream.SendWindow + increment > FrameHeader.MaxWindow)
            {
                stream.Fail(Http2Error.FlowControlError);
                return;
            }

            stream.SendWindow += increment;
        }

        stream.WindowMayHaveOpened();
    }

    /// <summary>SETTINGS_INITIAL_WINDOW_SIZE changes every open stream's window by the difference (RFC 9113 §6.9.2).</summary>
    private void SetInitialSendWindow(int value)
    {
        Http2Stream[] streams;
        lock (_streams)
        {
            streams = [.. _streams.Values];
        }

        lock (_output)
        {
            var delta = value - _initialSendWindow;
            _initialSendWindow = value;
            foreach (var stream in streams)
            {
                if ((long)stream.SendWindow + delta > FrameHeader.MaxWindow)
                {
                    throw new Http2ConnectionException(Http2Error.FlowControlError, "a stream's window above 2^31-1");
                }

                stream.SendWindow += delta;
            }
        }

        foreach (var stream in streams)
        {
            stream.WindowMayHaveOpened();
        }
    }

    /// <summary>Starts sending what is pending unless a send is in progress (which will pick it up).</summary>
    private void Flush()
    {
        lock (_output)
        {
            if (_flushing || _pending.Length == 0 || _outputClosed)
            {
                return;
            }

            _flushing = true;
            (_pending, _sending) = (_sending, _pending);
        }

        _ = SendLoopAsync();
    }

    private async Task SendLoopAsync()
    {
        while (true)
        {
            try
            {
                var output = _sending.Written;
                for (var at = 0; at < output.Length; at += SendSlice)
                {
                    await _transport.SendAsync(output.Slice(at, Math.Min(SendSlice, output.Length - at)), CancellationToken.None);
                    Volatile.Write(ref _slicesSent, _slicesSent + 1);
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                CloseOutput();
                _transport.Dispose(); // ends the read loop, which ends the streams
                return;
            }

            TaskCompletionSource? belowLimit = null, allSent = null;
            bool more, close = false;
            lock (_output)
            {
                _sending.Clear();
                more = _pending.Length > 0 && !_outputClosed;
                if (more)
                {
                    (_pending, _sending) = (_sending, _pending);
                }
                else
                {
                    _flushing = false;
                    close = _closeAfterFlush;
                    (allSent, _allSent) = (_allSent, null);
                }

                if (!more || _sending.Length < OutputBacklogLimit)
                {
                    (belowLimit, _belowLimit) = (_belowLimit, null);
                }
            }

            belowLimit?.TrySetResult();
            allSent?.TrySetResult();
            if (!more)
            {
                if (close)
                {
                    FinishOutput();
                }

                return;
            }
        }
    }

    /// <summary>Completes when the backlog is under the limit (at once, usually).</summary>
    internal Task WaitForOutputAsync()
    {
        lock (_output)
        {
            if (_outputClosed || _pending.Length + _sending.Length < OutputBacklogLimit)
            {
                return Task.CompletedTask;
            }

            _belowLimit ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _belowLimit.Task;
        }
    }

    /// <summary>Completes when everything written so far has been sent, sending failed, or a second has passed (a client that does not read).</summary>
    private async Task FlushedAsync()
    {
        Task sent;
        lock (_output)
        {
            if (!_flushing || _outputClosed)
            {
                return;
            }

            _allSent ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            sent = _allSent.Task;
        }

        await Task.WhenAny(sent, Task.Delay(TimeSpan.FromSeconds(1), Services.Time));
    }

    /// <summary>Ends a drained connection once everything written has been sent (see <see cref="FinishOutput"/>).</summary>
    private void CloseWhenFlushed()
    {
        lock (_output)
        {
            if (_flushing)
            {
                _closeAfterFlush = true;
                return;
            }
        }

        FinishOutput();
    }

    /// <summary>
    /// A graceful end: nothing more is written, and a FIN follows what was sent. The socket stays open
    /// for reading until the client closes too (the read loop then ends the connection) or the
    /// sweep's linger limit passes: closing with the client's frames unread would send a reset, which
    /// can reach the client before the GOAWAY it should act on (a refused stream's retry, say).
    /// </summary>
    private void FinishOutput()
    {
        lock (_output)
        {
            _outputClosed = true;
        }

        Volatile.Write(ref _finishedAt, Services.Time.GetTimestamp());
        try
        {
            _transport.ShutdownSend();
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            _transport.Dispose(); // already gone
        }
    }

    private void CloseOutput()
    {
        TaskCompletionSource? belowLimit, allSent;
        lock (_output)
        {
            _outputClosed = true;
            _flushing = false;
            (belowLimit, _belowLimit) = (_belowLimit, null);
            (allSent, _allSent) = (_allSent, null);
        }

        belowLimit?.TrySetResult();
        allSent?.TrySetResult();
    }
}
