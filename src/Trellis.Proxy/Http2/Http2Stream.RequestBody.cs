using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Http1;
using Trellis.Proxy.Http2.Hpack;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Http2;
/// <summary>
/// The request body of a stream on its way upstream: held whole for a replay or a mirror when it is small, else
/// copied from the stream's pipe as it arrives (chunked when its length is unknown), with the client's windows
/// opened again as bytes leave, and Expect: 100-continue answered here.
/// </summary>
internal sealed partial class Http2Stream
{
    /// <summary>
    /// Waits until the whole body is in the stream's pipe, when it is at most <paramref name="limit"/> bytes (the
    /// stream's 256 KiB window lets the client send that much unasked), and holds it there (<see cref="_heldBody"/>)
    /// so that every attempt can send it. A larger one is left to stream.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> HoldBodyAsync(int limit)
    {
        if (!_hasBody || _bodyProgress == BodyProgress.Held)
        {
            return true;
        }

        if (_bodyProgress == BodyProgress.Streaming || _expectContinue || _declaredLength > limit)
        {
            return false;
        }

        var reader = _body.Reader;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await reader.ReadAsync(CancellationToken.None);
            }
            catch (OperationCanceledException)
            {
                return false; // the stream was reset
            }

            var data = result.Buffer;
            if (result.IsCompleted && !result.IsCanceled)
            {
                _heldBody = data; // left in the pipe, unread, until the stream retires
                _bodyProgress = BodyProgress.Held;
                return true;
            }

            if (result.IsCanceled || data.Length > limit)
            {
                reader.AdvanceTo(data.Start); // nothing taken: the copy reads it all again and streams it
                return false;
            }

            reader.AdvanceTo(data.Start, data.End); // seen, not taken: wait for more
        }
    }

    private static async ValueTask<ForwardError> SendUpstreamAsync(UpstreamConnection upstream, ReadOnlyMemory<byte> bytes, CancellationToken token)
    {
        try
        {
            await upstream.SendAsync(bytes, token);
            return ForwardError.None;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return ForwardError.UpstreamRequest;
        }
    }

    /// <summary>Expect: 100-continue is answered here when the body is wanted, as Kestrel does; the upstream never sees it.</summary>
    private void WriteContinue()
    {
        _block.Clear();
        HpackEncoder.WriteStatus(100, _block);
        _connection.WriteHeaders(this, _block.Written.Span, endStream: false);
    }

    /// <summary>
    /// The request body from the stream's DATA frames to the upstream. A body that is whole at the
    /// first read (its END_STREAM came with it; the stream's window bounds it to 256 KiB) is held:
    /// sent but left in the pipe (<see cref="SendHeldBodyAsync"/>), so that an attempt on a stale
    /// connection can send it again. Any other is sent as it arrives, each part opening the client's
    /// windows again, and can then not be sent twice. A held body leaves the pipe when the stream retires.
    /// </summary>
    private async Task<ForwardError> CopyBodyAsync(UpstreamConnection upstream, CancellationToken token)
    {
        var reader = _body.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(CancellationToken.None);
                if (result.IsCanceled)
                {
                    return ForwardError.RequestBodyClient; // the exchange ended first, or stopped this attempt
                }

                var data = result.Buffer;
                if (result.IsCompleted && _bodyProgress == BodyProgress.Unread)
                {
                    _heldBody = data;
                    _bodyProgress = BodyProgress.Held;
                    return await SendHeldBodyAsync(upstream, token);
                }

                _bodyProgress = BodyProgress.Streaming;
                await SendBodyAsync(upstream, data, result.IsCompleted, token);
                var length = (int)data.Length;
                reader.AdvanceTo(data.End);
                BodyConsumed(length);
                if (result.IsCompleted)
                {
                    return ForwardError.None;
                }
            }
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            return ForwardError.RequestBodyClient; // the client reset the stream
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return ForwardError.RequestBodyUpstream;
        }
        finally
        {
            if (_bodyProgress == BodyProgress.Streaming)
            {
                _readerCompleted = true;
                await reader.CompleteAsync();
            }
        }
    }

    /// <summary>
    /// The held body (<see cref="CopyBodyAsync"/>) to the upstream, framed as a streamed one. Its bytes
    /// open the connection's window again (the stream's no longer matters: it has ended) once, when an
    /// attempt first sent them all: a resend finds nothing left in <see cref="_bodyUnsent"/>, which
    /// nothing else changes until the stream retires.
    /// </summary>
    private async Task<ForwardError> SendHeldBodyAsync(UpstreamConnection upstream, CancellationToken token)
    {
        try
        {
            await SendBodyAsync(upstream, _heldBody, last: true, token);
            BodyConsumed(Volatile.Read(ref _bodyUnsent));
            return ForwardError.None;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return ForwardError.RequestBodyUpstream;
        }
    }

    /// <summary>
    /// Body bytes framed as the upstream head declares: as they are (content-length) or as chunks;
    /// the <paramref name="last"/> part ends a chunked body, with the client's trailers.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendBodyAsync(UpstreamConnection upstream, ReadOnlySequence<byte> data, bool last, CancellationToken token)
    {
        foreach (var segment in data)
        {
            if (segment.IsEmpty)
            {
                continue; // an empty chunk would end a chunked body
            }

            if (_upstreamChunked)
            {
                _chunk.Clear();
                _chunk.AppendHex(segment.Length);
                _chunk.AppendCrLf();
                _chunk.Append(segment.Span);
                _chunk.AppendCrLf();
                await upstream.SendAsync(_chunk.Written, token);
            }
            else
            {
                await upstream.SendAsync(segment, token);
            }
        }

        if (last && _upstreamChunked)
        {
            _chunk.Clear();
            _chunk.Append("0\r\n"u8);
            _chunk.Append(_trailerLines.Written.Span);
            _chunk.AppendCrLf();
            await upstream.SendAsync(_chunk.Written, token);
        }
    }

    /// <summary>Body bytes sent upstream: the stream's window opens again in steps of half, and the connection's.</summary>
    private void BodyConsumed(int bytes)
    {
        Interlocked.Add(ref _bodyUnsent, -bytes);
        _unackedBody += bytes;
        if (_unackedBody >= Http2Connection.StreamWindow / 2 && !RequestEnded && !_reset)
        {
            Interlocked.Add(ref _receiveWindow, _unackedBody);
            _connection.WriteWindowUpdate(Id, _unackedBody);
            _unackedBody = 0;
        }

        _connection.Consumed(bytes);
    }
}
