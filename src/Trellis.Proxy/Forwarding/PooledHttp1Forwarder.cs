using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Trellis.Proxy.Http1;
using Trellis.Proxy.Listeners;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Serving;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Forwarding;

/// <summary>
/// The Kestrel path's exchange with an HTTP/1.1 upstream, over the fast path's pooled raw
/// connections instead of SocketsHttpHandler: no request message, Uri or header collections per
/// request, and one connection pool for both paths. Same semantics as <see cref="HttpForwarder"/>
/// with the handler (the tests are shared). Steps:
/// (1) write the head (<see cref="UpstreamHeadWriter"/>, through <see cref="KestrelExchange.WriteUpstreamHead(HeadBuilder, CompiledRoute, CompiledMatch?, HeaderOperations?, EndpointState?, string?)"/>) and send it on a pooled or new connection;
///     the request body, if any, streams beside the response (Content-Length, else chunked); under
///     <c>Expect: 100-continue</c> only after the upstream's 100 or <see cref="ContinueTimeout"/>, and
///     not at all after a final answer that came first (<see cref="AwaitContinueAsync"/>);
/// (2) read the response head, dropping 1xx; a reused connection that fails before any answer to a
///     request without a body was stale: the request goes once more on a new connection;
/// (3) status and headers onto the response (<see cref="UpstreamResponseHead"/>), then the body,
///     decoded from its framing (Kestrel frames it again for the client), then a chunked body's trailers;
/// (4) failures are <see cref="ForwardError"/>s for the pipeline to answer;
/// (5) the connection goes back to the pool only after a clean exchange at a message boundary.
/// </summary>
internal sealed class PooledHttp1Forwarder
{
    private const int InitialHeadSize = 4 * 1024;

    /// <summary>Room for a chunk-size line (up to 8 hex digits and CRLF) in front of the data.</summary>
    private const int ChunkPrefix = 10;

    private static readonly byte[] LastChunk = "0\r\n\r\n"u8.ToArray();

    /// <summary>How long a body under <c>Expect: 100-continue</c> waits for the upstream's 100: SocketsHttpHandler's and curl's default.</summary>
    internal static readonly TimeSpan ContinueTimeout = TimeSpan.FromSeconds(1);

    private readonly ProxyServerOptions _options;
    private readonly UpstreamConnectionPool _pool;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public PooledHttp1Forwarder(ProxyServerOptions options, UpstreamConnectionPool pool, TimeProvider time, ILogger logger)
    {
        _options = options;
        _pool = pool;
        _time = time;
        _logger = logger;
    }

    /// <summary>(1)(2) One attempt: the head and body out, the response head in and held on the exchange.</summary>
    public async ValueTask<AttemptResult> SendAsync(KestrelExchange exchange, Attempt attempt, CancellationTokenSource cts)
    {
        var context = exchange.Context;
        var endpoint = attempt.Endpoint;
        var token = cts.Token;
        var head = new HeadBuilder(InitialHeadSize);
        var body = exchange.BodyForAttempt();
        UpstreamConnection? upstream = null;
        Task<ForwardError>? bodyCopy = null;
        try
        {
            // (1)
            var (framing, expectsContinue) = exchange.BodyShape();
            if (!exchange.WriteUpstreamHead(head, attempt.Route, attempt.Matched, attempt.RequestHeaders, endpoint, null))
            {
                return AttemptResult.Failed(ForwardError.UpstreamRequest, requestSent: false);
            }

            exchange.Framing = framing;
            for (var resend = 0; ; resend++)
            {
                (upstream, _) = await UpstreamAttempt.OpenAsync(_pool, attempt.Cluster, endpoint, exchange.SourceIdentity, attempt.Route.UpstreamAuthority(exchange.Request.Authority), resend, token);
                if (upstream is null)
                {
                    var error = await ClassifyAsync(context, cts, exchange.Deadline, null, ForwardError.UpstreamConnect);
                    return AttemptResult.Failed(error, requestSent: false, context.RequestAborted.IsCancellationRequested);
                }

                var (sent, _) = await SendAsync(upstream, head.Written, token);
                ForwardError received;
                if (!sent)
                {
                    received = ForwardError.UpstreamRequest;
                }
                else if (framing != BodyFraming.None && expectsContinue)
                {
                    (bodyCopy, received) = await AwaitContinueAsync(body, context.Request.ContentLength, upstream, token);
                }
                else
                {
                    if (framing != BodyFraming.None)
                    {
                        bodyCopy = CopyRequestBodyAsync(body, upstream, context.Request.ContentLength, token);
                    }

                    // (2)
                    received = await upstream.ReadResponseHeadAsync(null, token);
                }

                if (received == ForwardError.None)
                {
                    exchange.Upstream = upstream;
                    exchange.BodyCopy = bodyCopy;
                    upstream = null;
                    return AttemptResult.Responded(exchange.Upstream.Head.Status);
                }

                var stale = upstream.Reused && upstream.End == 0 && bodyCopy is null && resend == 0 && !token.IsCancellationRequested;
                upstream.Dispose(); // also ends a body copy still sending
                upstream = null;
                if (!stale)
                {
                    var error = await ClassifyAsync(context, cts, exchange.Deadline, bodyCopy, ForwardError.UpstreamRequest);
                    return AttemptResult.Failed(error, requestSent: true, context.RequestAborted.IsCancellationRequested);
                }
            }
        }
        finally
        {
            head.ReturnBuffer();
            if (upstream is not null || (exchange.Upstream is null && bodyCopy is { IsCompleted: false }))
            {
                // A failed attempt: a copy still reading the client's body must not outlive it.
                await cts.CancelAsync();
                upstream?.Dispose();
                if (bodyCopy is not null)
                {
                    await bodyCopy;
                }
            }
        }
    }

    /// <summary>(3)(5) The held response onto Kestrel's, its body decoded from its framing; the connection pooled after a clean exchange.</summary>
    public async ValueTask<ForwardError> RelayAsync(KestrelExchange exchange, ResponseEdits edits)
    {
        var context = exchange.Context;
        var upstream = exchange.Upstream!;
        var endpoint = exchange.Endpoint!;
        var cts = exchange.AttemptCancellation!;
        var token = cts.Token;
        var deadline = exchange.Deadline;
        var bodyCopy = exchange.BodyCopy;
        exchange.Upstream = null;
        exchange.BodyCopy = null;
        var reusable = false;
        try
        {
            // (3)
            deadline?.ResponseStarted();
            var response = context.Response;
            var responseHead = upstream.Head;
            UpstreamResponseHead.Copy(responseHead, upstream.Buffer.AsSpan(upstream.Start, responseHead.Length), response);
            edits.ApplyTo(response.Headers);
            upstream.Start += responseHead.Length;

            var untilClose = false;
            var result = StreamCopyResult.Success;
            if (responseHead.HasBody(HttpMethods.IsHead(context.Request.Method)))
            {
                if (responseHead.Chunked)
                {
                    result = await CopyChunkedAsync(upstream, response, deadline, token);
                }
                else
                {
                    untilClose = responseHead.ContentLength < 0;
                    result = await CopyAsync(upstream, response, untilClose ? long.MaxValue : responseHead.ContentLength, deadline, token);
                }
            }

            if (result != StreamCopyResult.Success)
            {
                return HttpForwarder.BodyFailure(result, context, cts, deadline);
            }

            // A duplex (HTTP/2) request body may still be streaming after the upstream finished its
            // response; the exchange is over, so stop it rather than hold the request open.
            var bodyDone = true;
            if (bodyCopy is not null)
            {
                bodyDone = bodyCopy.IsCompleted && await bodyCopy == ForwardError.None;
            }

            // A body announced but never sent (a final answer to Expect: 100-continue) leaves the
            // upstream expecting it: not at a message boundary.
            var bodySent = exchange.Framing == BodyFraming.None || bodyCopy is not null;
            reusable = bodyDone && bodySent && !responseHead.Close && !untilClose && upstream.Start == upstream.End;
            return ForwardError.None;
        }
        finally
        {
            if (bodyCopy is { IsCompleted: false })
            {
                // It reads the client's body, which must not outlive the request: cancel, and wait.
                await cts.CancelAsync();
                upstream.Dispose();
                await bodyCopy;
            }

            if (reusable)
            {
                _pool.Return(upstream);
            }
            else
            {
                upstream.Dispose();
            }
        }
    }

    /// <summary>
    /// (1)(2) The request carries <c>Expect: 100-continue</c>: its body waits, as curl and SocketsHttpHandler
    /// wait, for the upstream's 100 (then it goes), a final response (then it is never read, so Kestrel
    /// never sends the client its own 100, and the client gets that answer), or <see cref="ContinueTimeout"/>
    /// on the injected clock (then it goes anyway; a late 100 is dropped). The fast path gets the same
    /// order by relaying the upstream's 100 to its client (<see cref="UpstreamConnection.ReadResponseHeadAsync(Listeners.IClientTransport?, TaskCompletionSource?, CancellationToken)"/>).
    /// </summary>
    private async Task<(Task<ForwardError>? BodyCopy, ForwardError Received)> AwaitContinueAsync(
        Stream body, long? length, UpstreamConnection upstream, CancellationToken token)
    {
        var continued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = upstream.ReadResponseHeadAsync(null, continued, token).AsTask();
        using (var wait = CancellationTokenSource.CreateLinkedTokenSource(token))
        {
            await Task.WhenAny(continued.Task, received, Task.Delay(ContinueTimeout, _time, wait.Token));
            await wait.CancelAsync(); // the timer, when it has not fired
        }

        var bodyCopy = received.IsCompleted ? null : CopyRequestBodyAsync(body, upstream, length, token);
        return (bodyCopy, await received);
    }

    /// <summary>(4) What a failure before the response head stands for; the order of <see cref="HttpForwarder"/>'s classification.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ForwardError> ClassifyAsync(
        HttpContext context, CancellationTokenSource cts, RequestDeadline? deadline, Task<ForwardError>? bodyCopy, ForwardError otherwise)
    {
        if (context.RequestAborted.IsCancellationRequested)
        {
            return ForwardError.RequestCanceled;
        }

        if (bodyCopy is not null)
        {
            // The upstream connection is closed by now, so a copy still sending ends at once.
            var outcome = await bodyCopy.WaitAsync(TimeSpan.FromSeconds(1), _time).ContinueWith(
                static t => t.IsCompletedSuccessfully ? t.Result : ForwardError.None, TaskScheduler.Default);
            if (outcome is ForwardError.RequestBodyClient or ForwardError.RequestBodyUpstream)
            {
                return outcome;
            }
        }

        return cts.IsCancellationRequested ? HttpForwarder.TimeoutReason(deadline) : otherwise;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<(bool Sent, Exception? Error)> SendAsync(UpstreamConnection upstream, ReadOnlyMemory<byte> data, CancellationToken token)
    {
        try
        {
            await upstream.SendAsync(data, token);
            return (true, null);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return (false, ex);
        }
    }

    /// <summary>
    /// (3) A Content-Length body (<paramref name="remaining"/> bytes), or one that ends when the
    /// upstream closes (<see cref="long.MaxValue"/>). The last piece is written without a flush:
    /// Kestrel sends it with the end of the response (for HTTP/2, in the same frames).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<StreamCopyResult> CopyAsync(
        UpstreamConnection upstream, HttpResponse response, long remaining, RequestDeadline? deadline, CancellationToken token)
    {
        var untilClose = remaining == long.MaxValue;
        var writer = response.BodyWriter;
        var buffered = (int)Math.Min(upstream.End - upstream.Start, remaining);
        if (buffered > 0)
        {
            remaining -= buffered;
            var last = remaining == 0;
            var written = await WriteAsync(writer, upstream.Buffer.AsMemory(upstream.Start, buffered), flush: !last, deadline, token);
            upstream.Start += buffered;
            if (!written || last)
            {
                return written ? StreamCopyResult.Success : Canceled(token);
            }
        }

        if (remaining == 0)
        {
            return StreamCopyResult.Success;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(StreamCopier.BufferSizeFor(untilClose ? null : remaining, _options.CopyBufferSize));
        try
        {
            while (remaining > 0)
            {
                var read = await ReceiveAsync(upstream, buffer.AsMemory(0, (int)Math.Min(remaining, buffer.Length)), token);
                if (read == 0 && untilClose)
                {
                    return StreamCopyResult.Success;
                }

                if (read <= 0)
                {
                    return token.IsCancellationRequested ? StreamCopyResult.Canceled : StreamCopyResult.InputError;
                }

                remaining -= untilClose ? 0 : read;
                if (!await WriteAsync(writer, buffer.AsMemory(0, read), flush: remaining > 0, deadline, token))
                {
                    return Canceled(token);
                }
            }

            return StreamCopyResult.Success;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>(3) A chunked body, decoded in place; its trailers go to the client when it can take them.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<StreamCopyResult> CopyChunkedAsync(UpstreamConnection upstream, HttpResponse response, RequestDeadline? deadline, CancellationToken token)
    {
        var writer = response.BodyWriter;
        var decoder = default(ChunkedDecoder);
        var data = decoder.Decode(upstream.Buffer.AsSpan(upstream.Start, upstream.End - upstream.Start), out var consumed);
        if (data < 0)
        {
            return StreamCopyResult.InputError;
        }

        upstream.Start += consumed;
        if (data > 0 && !await WriteAsync(writer, upstream.Buffer.AsMemory(upstream.Start - consumed, data), flush: !decoder.IsDone, deadline, token))
        {
            return Canceled(token);
        }

        if (!decoder.IsDone)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(_options.CopyBufferSize);
            try
            {
                while (!decoder.IsDone)
                {
                    var read = await ReceiveAsync(upstream, buffer, token);
                    if (read <= 0)
                    {
                        return token.IsCancellationRequested ? StreamCopyResult.Canceled : StreamCopyResult.InputError;
                    }

                    data = decoder.Decode(buffer.AsSpan(0, read), out consumed);
                    if (data < 0)
                    {
                        return StreamCopyResult.InputError;
                    }

                    if (consumed < read)
                    {
                        upstream.End = upstream.Start + 1; // bytes after the body: not a connection to reuse
                    }

                    if (data > 0 && !await WriteAsync(writer, buffer.AsMemory(0, data), flush: !decoder.IsDone, deadline, token))
                    {
                        return Canceled(token);
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        UpstreamResponseHead.CopyTrailers(decoder.Trailers, response);
        return StreamCopyResult.Success;
    }

    /// <summary>Writes to the client; false when that failed. A flush goes out now; without one, with the next flush or the response's end.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<bool> WriteAsync(PipeWriter writer, ReadOnlyMemory<byte> data, bool flush, RequestDeadline? deadline, CancellationToken token)
    {
        // Before and after: a write held up by a slow client is not the upstream going idle.
        deadline?.BytesSent();
        try
        {
            if (!flush)
            {
                // Not PipeWriter.Write: it asks GetSpan() without a size, and Kestrel's HTTP/1.1
                // writer answers that with an empty span until the response has started.
                var rest = data.Span;
                while (!rest.IsEmpty)
                {
                    var target = writer.GetSpan(rest.Length);
                    var n = Math.Min(target.Length, rest.Length);
                    rest[..n].CopyTo(target);
                    writer.Advance(n);
                    rest = rest[n..];
                }

                return true;
            }

            var result = await writer.WriteAsync(data, token);
            deadline?.BytesSent();
            return !result.IsCanceled;
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            return false;
        }
    }

    private static StreamCopyResult Canceled(CancellationToken token) => token.IsCancellationRequested ? StreamCopyResult.Canceled : StreamCopyResult.OutputError;

    /// <summary>Bytes read, 0 at the upstream's end of stream, -1 on an error or cancellation.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<int> ReceiveAsync(UpstreamConnection upstream, Memory<byte> buffer, CancellationToken token)
    {
        try
        {
            return await upstream.ReceiveAsync(buffer, token);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return -1;
        }
    }

    /// <summary>
    /// (1) The client's body to the upstream as it arrives, beside the response: as is under
    /// Content-Length, else one chunk per read. Says which side failed, as StreamingRequestContent does.
    /// A failed copy closes the upstream connection, which ends a response read waiting on it.
    /// </summary>
    private async Task<ForwardError> CopyRequestBodyAsync(Stream body, UpstreamConnection upstream, long? length, CancellationToken token)
    {
        var chunked = length is null;
        var size = StreamCopier.BufferSizeFor(length, _options.CopyBufferSize);
        var buffer = ArrayPool<byte>.Shared.Rent(size + ChunkPrefix + 2);
        var lastReadWasPartial = false;
        var outcome = ForwardError.None;
        try
        {
            while (true)
            {
                int read;
                try
                {
                    if (lastReadWasPartial)
                    {
                        // As StreamCopier's batchAfterPause: wait for data without holding the buffer, then
                        // let the rest of the burst arrive so the next read comes back full.
                        _ = await body.ReadAsync(Memory<byte>.Empty, token);
                        await Task.Yield();
                    }

                    read = await body.ReadAsync(buffer.AsMemory(ChunkPrefix, size), token);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    outcome = token.IsCancellationRequested ? ForwardError.RequestCanceled : ForwardError.RequestBodyClient;
                    return outcome;
                }

                lastReadWasPartial = read < size;
                ReadOnlyMemory<byte> frame;
                if (!chunked)
                {
                    if (read == 0)
                    {
                        return outcome;
                    }

                    frame = buffer.AsMemory(ChunkPrefix, read);
                }
                else if (read == 0)
                {
                    frame = LastChunk;
                }
                else
                {
                    // "<hex>\r\n" right before the data, "\r\n" right after: one send per chunk.
                    var start = ChunkPrefix - 2 - HexDigits(read);
                    System.Buffers.Text.Utf8Formatter.TryFormat(read, buffer.AsSpan(start), out _, new StandardFormat('x'));
                    "\r\n"u8.CopyTo(buffer.AsSpan(ChunkPrefix - 2));
                    "\r\n"u8.CopyTo(buffer.AsSpan(ChunkPrefix + read));
                    frame = buffer.AsMemory(start, ChunkPrefix - start + read + 2);
                }

                var (sent, _) = await SendAsync(upstream, frame, token);
                if (!sent)
                {
                    outcome = token.IsCancellationRequested ? ForwardError.RequestCanceled : ForwardError.RequestBodyUpstream;
                    return outcome;
                }

                if (read == 0)
                {
                    return outcome;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (outcome != ForwardError.None)
            {
                upstream.Dispose();
            }
        }
    }

    private static int HexDigits(int value) => value switch
    {
        < 0x10 => 1,
        < 0x100 => 2,
        < 0x1000 => 3,
        < 0x10000 => 4,
        < 0x100000 => 5,
        < 0x1000000 => 6,
        < 0x10000000 => 7,
        _ => 8,
    };
}
