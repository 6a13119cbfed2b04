using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Http1;

/// <summary>(4) Relaying the response as the upstream framed it.</summary>
internal sealed partial class Http1Connection
{
    /// <summary>(4) Relays the response head and body. Returns the outcome and whether the upstream connection can be reused.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<((ForwardError Error, int Status, bool KeepAlive) Result, bool Reusable)> RelayResponseAsync(
        UpstreamConnection upstream, ResponseEdits edits, CancellationToken token)
    {
        ClaimClientWrites();
        var head = upstream.Head;
        var keepAlive = !_head.Close && Volatile.Read(ref _state) == States.Busy && !_listener.Stopping && BodyConsumed(_bodyCopy)
            && !_clientHalfClosed; // a client that half-closed sends no further request
        var hasBody = head.HasBody(_head.IsHead);
        var untilClose = hasBody && !head.Chunked && head.ContentLength < 0;
        WriteResponseHead(head, upstream.Buffer.AsSpan(upstream.Start, head.Length), edits, chunked: head.Chunked || untilClose, keepAlive);
        ReadGrpcStatus(head, upstream.Buffer.AsSpan(upstream.Start, head.Length));
        upstream.Start += head.Length;
        var reusable = !head.Close && !untilClose;
        var ok = (ForwardError.None, head.Status, keepAlive);
        try
        {
            if (!hasBody)
            {
                CountCompleted();
                await SendToClientAsync(_out.Written);
                return (ok, reusable && upstream.Start == upstream.End);
            }

            var bodyError = head.Chunked ? await RelayChunkedAsync(upstream, token)
                : untilClose ? await RelayUntilCloseAsync(upstream, token)
                : await RelayLengthAsync(upstream, head.ContentLength, token);
            if (bodyError != ForwardError.None)
            {
                ProxyLog.ForwardFailed(_services.ForwardLog, upstream.Transport.Remote, bodyError, null);
                return ((bodyError, head.Status, false), false);
            }

            return (ok, reusable && upstream.Start == upstream.End);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return ((ForwardError.ResponseBodyClient, head.Status, false), false);
        }
    }

    /// <summary>
    /// Whether the client's request body is all read, so the client connection is at a message
    /// boundary: no streamed body, or one copied whole. A copy still running, or one that failed (an
    /// upstream that answered early and closed under it), leaves the rest unread: Connection: close.
    /// </summary>
    internal static bool BodyConsumed(Task<ForwardError>? bodyCopy) =>
        bodyCopy is null || (bodyCopy.IsCompletedSuccessfully && bodyCopy.Result == ForwardError.None);

    /// <summary>A Content-Length body: what is buffered goes out with the head when it fits, the rest is copied as it comes.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ForwardError> RelayLengthAsync(UpstreamConnection upstream, long length, CancellationToken token)
    {
        var buffered = (int)Math.Min(upstream.End - upstream.Start, length);
        if (buffered <= _out.Free || length == buffered)
        {
            _out.Append(upstream.Buffer.AsSpan(upstream.Start, buffered));
            upstream.Start += buffered;
            if (length == buffered)
            {
                CountCompleted();
            }

            await SendToClientAsync(_out.Written);
        }
        else
        {
            await SendToClientAsync(_out.Written);
            await SendToClientAsync(upstream.Buffer.AsMemory(upstream.Start, buffered));
            upstream.Start += buffered;
        }

        var remaining = length - buffered;
        if (remaining == 0)
        {
            return ForwardError.None;
        }

        return await CopyAsync(upstream, remaining, chunkFraming: false, token);
    }

    /// <summary>A chunked body, relayed as it is; the scanner finds its end (after the trailers, which HTTP/1.1 clients receive as sent).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ForwardError> RelayChunkedAsync(UpstreamConnection upstream, CancellationToken token)
    {
        var scanner = default(ChunkedScanner);
        var used = scanner.Scan(upstream.Buffer.AsSpan(upstream.Start, upstream.End - upstream.Start));
        if (used < 0)
        {
            await SendToClientAsync(_out.Written);
            return ForwardError.ResponseBodyUpstream;
        }

        _out.Append(upstream.Buffer.AsSpan(upstream.Start, used));
        upstream.Start += used;
        if (scanner.IsDone)
        {
            CountCompleted();
        }

        await SendToClientAsync(_out.Written);
        if (scanner.IsDone)
        {
            return ForwardError.None;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(LargeCopyBufferSize);
        try
        {
            while (true)
            {
                var read = await ReceiveUpstreamAsync(upstream, buffer, buffer.Length, token);
                if (read <= 0)
                {
                    return ForwardError.ResponseBodyUpstream;
                }

                used = scanner.Scan(buffer.AsSpan(0, read));
                if (used < 0)
                {
                    return ForwardError.ResponseBodyUpstream;
                }

                if (scanner.IsDone)
                {
                    CountCompleted();
                }

                await SendToClientAsync(buffer.AsMemory(0, used));
                if (scanner.IsDone)
                {
                    // Bytes after the body mean the upstream is not speaking HTTP/1.1 as we understand it: do not reuse.
                    upstream.End = upstream.Start + (read - used);
                    return ForwardError.None;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A body that ends when the upstream closes (no Content-Length, not chunked): re-framed as chunks for the client, as Kestrel does.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ForwardError> RelayUntilCloseAsync(UpstreamConnection upstream, CancellationToken token)
    {
        var buffered = upstream.End - upstream.Start;
        if (buffered > 0)
        {
            AppendChunk(upstream.Buffer.AsSpan(upstream.Start, buffered));
            upstream.Start = upstream.End;
        }

        await SendToClientAsync(_out.Written);
        return await CopyAsync(upstream, long.MaxValue, chunkFraming: true, token);
    }

    /// <summary>Copies up to <paramref name="remaining"/> bytes (or until the upstream closes, when chunk-framing).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ForwardError> CopyAsync(UpstreamConnection upstream, long remaining, bool chunkFraming, CancellationToken token)
    {
        upstream.Start = upstream.End = 0; // all buffered bytes are sent; reads start over
        var buffer = remaining > UpstreamConnection.BufferSize ? ArrayPool<byte>.Shared.Rent(LargeCopyBufferSize) : upstream.Buffer;
        try
        {
            while (remaining > 0)
            {
                var read = await ReceiveUpstreamAsync(upstream, buffer, (int)Math.Min(remaining, buffer.Length), token);
                if (read < 0 || (read == 0 && !chunkFraming))
                {
                    return token.IsCancellationRequested ? ForwardError.UpstreamTimeout : ForwardError.ResponseBodyUpstream;
                }

                if (chunkFraming)
                {
                    _out.Clear();
                    if (read == 0)
                    {
                        _out.Append("0\r\n\r\n"u8);
                        CountCompleted();
                        await SendToClientAsync(_out.Written);
                        return ForwardError.None;
                    }

                    AppendChunk(buffer.AsSpan(0, read));
                    await SendToClientAsync(_out.Written);
                    continue;
                }

                remaining -= read;
                if (remaining == 0)
                {
                    CountCompleted();
                }

                await SendToClientAsync(buffer.AsMemory(0, read));
            }

            return ForwardError.None;
        }
        finally
        {
            if (!ReferenceEquals(buffer, upstream.Buffer))
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>Bytes read, 0 at the upstream's end of stream, -1 on an error or the route timeout.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<int> ReceiveUpstreamAsync(UpstreamConnection upstream, byte[] buffer, int count, CancellationToken token)
    {
        try
        {
            return await upstream.ReceiveAsync(buffer.AsMemory(0, count), token);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return -1;
        }
    }

    private void AppendChunk(ReadOnlySpan<byte> data)
    {
        _out.AppendHex(data.Length);
        _out.AppendCrLf();
        _out.Append(data);
        _out.AppendCrLf();
    }
}
