using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Http1;
using Trellis.Proxy.Http2.Hpack;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Http2;

/// <summary>(4) The upstream's response as frames: HEADERS from its head, DATA from its body as framed, trailers last.</summary>
internal sealed partial class Http2Stream
{
    /// <summary>Relays the response. Returns the outcome and whether the upstream connection can be reused.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<((ForwardError Error, int Status) Result, bool Reusable)> RelayResponseAsync(
        UpstreamConnection upstream, ResponseEdits edits, CancellationToken token)
    {
        var head = upstream.Head;
        var hasBody = head.HasBody(_request.IsHead);
        var untilClose = hasBody && !head.Chunked && head.ContentLength < 0;
        WriteResponseBlock(head, upstream.Buffer.AsSpan(upstream.Start, head.Length), edits);
        ReadGrpcStatus(head, upstream.Buffer.AsSpan(upstream.Start, head.Length));
        upstream.Start += head.Length;
        var reusable = !head.Close && !untilClose;
        if (!hasBody || (!head.Chunked && head.ContentLength == 0))
        {
            CountCompleted();
            CountSent(_block.Written.Length);
            var sent = _connection.WriteHeaders(this, _block.Written.Span, endStream: true);
            return ((sent ? ForwardError.None : ForwardError.ResponseBodyClient, head.Status), reusable && upstream.Start == upstream.End);
        }

        _headersPending = true;
        var error = head.Chunked ? await RelayChunkedAsync(upstream, token)
            : untilClose ? await RelayUntilCloseAsync(upstream, token)
            : await RelayLengthAsync(upstream, head.ContentLength, token);
        if (error != ForwardError.None)
        {
            if (error != ForwardError.ResponseBodyClient)
            {
                ProxyLog.ForwardFailed(_connection.Services.ForwardLog, upstream.Transport.Remote, error, null);
                Fail(Http2Error.InternalError); // a truncated body must not look complete
            }

            return ((error, head.Status), false);
        }

        return ((ForwardError.None, head.Status), reusable && upstream.Start == upstream.End);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ForwardError> RelayLengthAsync(UpstreamConnection upstream, long length, CancellationToken token)
    {
        var buffered = (int)Math.Min(upstream.End - upstream.Start, length);
        var remaining = length - buffered;
        if (remaining == 0)
        {
            CountCompleted();
        }

        if (!await SendAsync(upstream.Buffer.AsMemory(upstream.Start, buffered), endStream: remaining == 0))
        {
            return ForwardError.ResponseBodyClient;
        }

        upstream.Start += buffered;
        while (remaining > 0)
        {
            var read = await ReceiveUpstreamAsync(upstream, (int)Math.Min(remaining, UpstreamConnection.BufferSize), token);
            if (read <= 0)
            {
                return token.IsCancellationRequested ? ForwardError.UpstreamTimeout : ForwardError.ResponseBodyUpstream;
            }

            remaining -= read;
            if (remaining == 0)
            {
                CountCompleted();
            }

            if (!await SendAsync(upstream.Buffer.AsMemory(0, read), endStream: remaining == 0))
            {
                return ForwardError.ResponseBodyClient;
            }

            upstream.Start = upstream.End;
        }

        return ForwardError.None;
    }

    /// <summary>A chunked body, decoded to DATA; its trailer section, if any, ends the stream as HEADERS.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ForwardError> RelayChunkedAsync(UpstreamConnection upstream, CancellationToken token)
    {
        var decoder = default(ChunkedDecoder);
        while (true)
        {
            if (upstream.End > upstream.Start)
            {
                var data = decoder.Decode(upstream.Buffer.AsSpan(upstream.Start, upstream.End - upstream.Start), out var consumed);
                if (data < 0)
                {
                    return ForwardError.ResponseBodyUpstream;
                }

                var done = decoder.IsDone;
                var hasTrailers = done && !decoder.Trailers.IsEmpty;
                if (done)
                {
                    CountCompleted();
                    if (hasTrailers)
                    {
                        WriteTrailerBlock(decoder.Trailers);
                    }
                }

                if ((data > 0 || done) && !await SendAsync(upstream.Buffer.AsMemory(upstream.Start, data), endStream: done && !hasTrailers))
                {
                    return ForwardError.ResponseBodyClient;
                }

                upstream.Start += consumed;
                if (done)
                {
                    return !hasTrailers || _connection.WriteHeaders(this, _trailerBlock.Written.Span, endStream: true)
                        ? ForwardError.None
                        : ForwardError.ResponseBodyClient;
                }
            }

            var read = await ReceiveUpstreamAsync(upstream, UpstreamConnection.BufferSize, token);
            if (read <= 0)
            {
                return token.IsCancellationRequested ? ForwardError.UpstreamTimeout : ForwardError.ResponseBodyUpstream;
            }
        }
    }

    /// <summary>A body that ends when the upstream closes: DATA as it comes, END_STREAM at the close.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ForwardError> RelayUntilCloseAsync(UpstreamConnection upstream, CancellationToken token)
    {
        if (!await SendAsync(upstream.Buffer.AsMemory(upstream.Start, upstream.End - upstream.Start), endStream: false))
        {
            return ForwardError.ResponseBodyClient;
        }

        while (true)
        {
            var read = await ReceiveUpstreamAsync(upstream, UpstreamConnection.BufferSize, token);
            if (read < 0)
            {
                return token.IsCancellationRequested ? ForwardError.UpstreamTimeout : ForwardError.ResponseBodyUpstream;
            }

            if (read == 0)
            {
                CountCompleted();
            }

            if (!await SendAsync(upstream.Buffer.AsMemory(0, read), endStream: read == 0))
            {
                return ForwardError.ResponseBodyClient;
            }

            if (read == 0)
            {
                return ForwardError.None;
            }
        }
    }

    /// <summary>
    /// DATA within the windows (the response's HEADERS first, when still pending), waiting for window
    /// updates as needed. <paramref name="data"/> stays untouched until this completes. False when the stream was reset.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> SendAsync(ReadOnlyMemory<byte> data, bool endStream)
    {
        while (true)
        {
            var written = _connection.WriteData(this, _headersPending ? _block.Written.Span : [], data.Span, endStream);
            if (written < 0)
            {
                return false;
            }

            CountSent(written + (_headersPending ? _block.Written.Length : 0));
            _headersPending = false;

            // The windows bound what the client will accept, not how fast it reads: one that grants
            // 2^31-1 and reads nothing would have every body buffered here. Past the backlog limit
            // the stream (and so its upstream) waits for the client to read.
            var backlog = _connection.WaitForOutputAsync();
            if (!backlog.IsCompleted)
            {
                await backlog;
            }

            if (written == data.Length)
            {
                return true;
            }

            data = data[written..];
            await WindowOpened();
        }
    }

    /// <summary>Reads the next part of the body into the upstream buffer (from its start: <c>Buffer[0..End]</c>); the response HEADERS go out first if still pending.</summary>
    private async ValueTask<int> ReceiveUpstreamAsync(UpstreamConnection upstream, int count, CancellationToken token)
    {
        if (_headersPending)
        {
            _headersPending = false; // a streamed response's head does not wait for its first bytes
            CountSent(_block.Written.Length);
            if (!_connection.WriteHeaders(this, _block.Written.Span, endStream: false))
            {
                return -1;
            }
        }

        upstream.Start = upstream.End = 0;
        try
        {
            var read = await upstream.ReceiveAsync(upstream.Buffer.AsMemory(0, count), token);
            upstream.End = read;
            return read;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return -1;
        }
    }

    /// <summary>(4) The response HEADERS block: the upstream's fields minus hop-by-hop ones, with the route's operations, as the HTTP/1.1 fast path writes them.</summary>
    private void WriteResponseBlock(ResponseHead head, ReadOnlySpan<byte> buffer, ResponseEdits edits)
    {
        _block.Clear();
        HpackEncoder.WriteStatus(head.Status, _block);
        var hasDate = false;
        var namesHeaders = head.Fields.IndexOf(FieldKind.Connection) >= 0;
        foreach (var field in head.Fields.AsSpan())
        {
            if (!ResponseFields.Forwards(field, head.Fields, buffer, edits, rechunked: head.Chunked, namesHeaders))
            {
                continue;
            }

            hasDate |= field.Kind == FieldKind.Date;
            HpackEncoder.WriteField(field.Name(buffer), field.Value(buffer), _block);
        }

        foreach (var (name, value) in edits)
        {
            WriteField(name, value);
        }

        if (!hasDate)
        {
            WriteDate();
        }
    }

    /// <summary>The upstream's trailer section as a HEADERS block; lines HTTP/2 cannot carry are left out.</summary>
    private void WriteTrailerBlock(ReadOnlySpan<byte> trailers)
    {
        _trailerBlock.Clear();
        _trailerFields ??= new HeaderFields();
        if (_trailerFields.Parse(trailers, 0) <= 0)
        {
            return;
        }

        foreach (var field in _trailerFields.AsSpan())
        {
            if (!field.IsHopByHop)
            {
                HpackEncoder.WriteField(field.Name(trailers), field.Value(trailers), _trailerBlock);
            }
        }
    }

    /// <summary>A field from configuration, written as Latin-1 (as HTTP/1.1 heads carry it).</summary>
    private void WriteField(string name, string value)
    {
        var bytes = ArrayPool<byte>.Shared.Rent(name.Length + value.Length);
        try
        {
            var nameLength = Encoding.Latin1.GetBytes(name, bytes);
            var valueLength = Encoding.Latin1.GetBytes(value, bytes.AsSpan(nameLength));
            HpackEncoder.WriteField(bytes.AsSpan(0, nameLength), bytes.AsSpan(nameLength, valueLength), _block);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }
}
