using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Http1;
using Trellis.Proxy.Http2.Hpack;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Http2;

/// <summary>
/// Serving a stream: routing, one exchange over a pooled HTTP/1.1 upstream connection (as
/// <see cref="Http1Connection"/> does it), and the response as HEADERS and DATA frames within the
/// client's windows; a chunked response's trailers become a trailing HEADERS frame.
/// </summary>
internal sealed partial class Http2Stream
{
    private readonly HeadBuilder _upstreamHead = new(2048);
    private readonly HeadBuilder _block = new(512);
    private readonly HeadBuilder _trailerLines = new(256);
    private readonly HeadBuilder _chunk = new(1024);
    private readonly HeadBuilder _trailerBlock = new(256);
    private HeaderFields? _trailerFields;
    private UpstreamConnection? _upstream;
    private bool _upstreamChunked;

    // How far the exchange got with the request body; a held one is _heldBody, still in the pipe.
    private BodyProgress _bodyProgress;
    private ReadOnlySequence<byte> _heldBody;
    private bool _headersPending;
    private long _started;
    private bool _uncounted;

    private enum BodyProgress : byte
    {
        Unread,
        Held, // whole at the first read: can be sent again
        Streaming, // sent as it arrives: cannot
    }

    /// <summary>Serves the stream whose header block was just decoded (read loop); runs on until its first wait.</summary>
    public void Start(bool headerListTooLarge) => _ = RunAsync(headerListTooLarge);

    private async Task RunAsync(bool headerListTooLarge)
    {
        var id = Id;
        try
        {
            if (FinishHead(headerListTooLarge))
            {
                await ServeAsync();
            }
            else
            {
                await AnswerProblemAsync();
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client or the connection went away: nothing to answer.
        }
        finally
        {
            CountCompleted();
            _connection.StreamEnded(this, id);
        }
    }

    /// <summary>Called by the connection under its stream lock when the stream leaves the table: the read loop cannot reach it any more.</summary>
    internal void Retire()
    {
        _bodyAbandoned = true;
        CompleteBody(null);
        if (!_readerCompleted)
        {
            _readerCompleted = true;
            _body.Reader.Complete(); // the exchange held the body, or ended before it read it (an error answer)
        }

        _connection.Consumed(Interlocked.Exchange(ref _bodyUnsent, 0));
    }

    /// <summary>Gives the stream's buffers back to the pool when its connection no longer keeps it for reuse; it never serves again.</summary>
    internal void ReturnBuffers()
    {
        _head.ReturnBuffer();
        _pseudo.ReturnBuffer();
        _upstreamHead.ReturnBuffer();
        _block.ReturnBuffer();
        _trailerLines.ReturnBuffer();
        _chunk.ReturnBuffer();
        _trailerBlock.ReturnBuffer();
    }

    private async ValueTask ServeAsync()
    {
        var services = _connection.Services;
        var listener = _connection.Listener;
        var snapshot = services.Snapshots.Current;
        if (snapshot.ServingByListener.Count != 0 && snapshot.ServingByListener.ContainsKey(listener.Name))
        {
            Refuse(); // queue-proxy duties live on the Kestrel path
            return;
        }

        var buffer = _head.Written.Span;
        var method = _request.Method(buffer);
        var host = _connection.Routing.Host(_request.Host(buffer));
        var path = _connection.Routing.Path(_request.Path(buffer));
        var query = _request.Query(buffer);
        var match = snapshot.RouteTablesByListener.TryGetValue(listener.Name, out var table)
            ? table.Match(new RouteRequest(method, host, path, query.IsEmpty ? null : Encoding.Latin1.GetString(query), this, _connection.LocalPort))
            : default;
        var route = match.Route;
        ClusterState? cluster = null;
        EndpointState? endpoint = null;
        if (route is not null)
        {
            cluster = route.PickCluster(services.Options.Random);
            if (route.Redirect is not null || cluster.Protocol == Trellis.Api.Snapshots.UpstreamProtocol.Http2 || cluster.EndpointCapacity > 0)
            {
                Refuse(); // the routes changed since the connection started: the client retries on a connection Kestrel serves
                return;
            }

            endpoint = cluster.PickEndpoint();
            if (endpoint is null && cluster.Activation is not null)
            {
                Refuse();
                return;
            }
        }

        var time = services.Time;
        _started = time.GetTimestamp();
        _uncounted = true;
        listener.Stats.Load.RequestStarted(ConcurrencyTracker.ToMicros(time, _started));
        var error = ForwardError.None;
        var status = 0;
        try
        {
            if (route is null || endpoint is null)
            {
                error = route is null ? ForwardError.NoRoute : ForwardError.NoHealthyUpstream;
                status = await AnswerErrorAsync(error);
            }
            else
            {
                (error, status) = await ForwardAsync(route, match.Matched, endpoint, host, path);
            }
        }
        finally
        {
            CountCompleted();
            if (services.AccessLog.IsEnabled(LogLevel.Debug))
            {
                ProxyLog.AccessLog(
                    services.AccessLog, listener.Name, method, host, path, status, error, route?.Name ?? string.Empty,
                    cluster?.Name ?? string.Empty, endpoint?.Origin ?? string.Empty, time.GetElapsedTime(_started).TotalMilliseconds);
            }
        }
    }

    /// <summary>
    /// REFUSED_STREAM tells the client the stream was not processed and may be retried (RFC 9113
    /// §8.7); GOAWAY makes it retry on a new connection, which the listener then hands to Kestrel.
    /// </summary>
    private void Refuse()
    {
        _connection.Listener.PreferKestrelForHttp2();
        Fail(Http2Error.RefusedStream);
        _connection.BeginDrain();
    }

    /// <summary>(3)–(5) of <see cref="Http1Connection"/>, over HTTP/2: returns the error and the status sent.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(ForwardError Error, int Status)> ForwardAsync(
        CompiledRoute route, CompiledMatch? matched, EndpointState endpoint, string host, string path)
    {
        var services = _connection.Services;
        UpstreamHeadWriter.Write(
            _upstreamHead, _request, _head.Written.Span, route, matched, host, path, _connection.ClientIp, services.Options.RequestIdGenerator);
        using var timeout = route.Timeout is { } limit ? new CancellationTokenSource(limit, services.Time) : null;
        var token = timeout?.Token ?? CancellationToken.None;
        var pool = services.Pool;
        endpoint.RequestStarted();
        UpstreamConnection? upstream = null;
        Task<ForwardError>? bodyCopy = null;
        var reusable = false;
        try
        {
            // As on the HTTP/1.1 fast path, a request that is all in hand (no body, a body held whole,
            // or one not read yet) and fails on a reused connection before any answer (a stale
            // keep-alive) is sent once more on a new one. A body partly sent as it streams is not.
            for (var attempt = 0; ; attempt++)
            {
                (upstream, var connectError) = await UpstreamAttempt.OpenAsync(pool, endpoint, attempt);
                if (upstream is null)
                {
                    return await FailAsync(endpoint, ForwardError.UpstreamConnect, connectError);
                }

                // Published for a reset to close; whoever takes it back out of _upstream owns it (see OnReset).
                Interlocked.Exchange(ref _upstream, upstream);
                if (_reset)
                {
                    return (ForwardError.RequestCanceled, 0);
                }

                var sent = await SendUpstreamAsync(upstream, _upstreamHead.Written, token);
                if (sent == ForwardError.None && _hasBody)
                {
                    if (_expectContinue)
                    {
                        _expectContinue = false; // once, also when the request is sent again
                        WriteContinue();
                    }

                    bodyCopy = _bodyProgress == BodyProgress.Held ? SendHeldBodyAsync(upstream, token) : CopyBodyAsync(upstream, token);
                }

                var received = sent == ForwardError.None ? await upstream.ReadResponseHeadAsync(null, token) : sent;
                if (received == ForwardError.None)
                {
                    break;
                }

                var failed = upstream;
                upstream.Dispose();
                upstream = null;
                if (bodyCopy is not null)
                {
                    // Stopped before deciding: it waits for the body (and wakes canceled) or ends with
                    // the closed connection; the next attempt's copy must not share _chunk with it.
                    _body.Reader.CancelPendingRead();
                    await bodyCopy;
                    bodyCopy = null;
                }

                if (!UpstreamAttempt.MayResend(failed, attempt, _bodyProgress != BodyProgress.Streaming, received, token))
                {
                    return await FailAsync(endpoint, token.IsCancellationRequested ? ForwardError.UpstreamTimeout : received, null);
                }
            }

            (var result, reusable) = await RelayResponseAsync(upstream, route, token);
            if (bodyCopy is not null && (!bodyCopy.IsCompleted || await bodyCopy != ForwardError.None))
            {
                // Answered before the whole body came: the upstream connection is mid-message, and the
                // client may stop sending (RFC 9113 §8.1: RST_STREAM NO_ERROR after a complete response).
                reusable = false;
                if (result.Error == ForwardError.None && !RequestEnded)
                {
                    Fail(Http2Error.NoError);
                }
            }

            return result;
        }
        finally
        {
            endpoint.RequestEnded();
            if (Interlocked.Exchange(ref _upstream, null) is null)
            {
                reusable = false; // a reset took it and closes it: it must not go back to the pool
            }

            if (upstream is not null)
            {
                if (reusable)
                {
                    pool.Return(endpoint.Address, endpoint.Port, upstream);
                }
                else
                {
                    upstream.Dispose();
                }
            }

            if (bodyCopy is not null)
            {
                _body.Reader.CancelPendingRead();
                await bodyCopy;
            }
        }
    }

    private static async ValueTask<ForwardError> SendUpstreamAsync(UpstreamConnection upstream, ReadOnlyMemory<byte> bytes, CancellationToken token)
    {
        try
        {
            await SocketSends.AllAsync(upstream.Socket, bytes, token);
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
                await SocketSends.AllAsync(upstream.Socket, _chunk.Written, token);
            }
            else
            {
                await SocketSends.AllAsync(upstream.Socket, segment, token);
            }
        }

        if (last && _upstreamChunked)
        {
            _chunk.Clear();
            _chunk.Append("0\r\n"u8);
            _chunk.Append(_trailerLines.Written.Span);
            _chunk.AppendCrLf();
            await SocketSends.AllAsync(upstream.Socket, _chunk.Written, token);
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

    /// <summary>(5) An error answered before the response started; a reset stream gets nothing.</summary>
    private async ValueTask<(ForwardError Error, int Status)> FailAsync(EndpointState endpoint, ForwardError error, Exception? exception)
    {
        if (_reset)
        {
            return (ForwardError.RequestCanceled, 0);
        }

        ProxyLog.ForwardFailed(_connection.Services.ForwardLog, endpoint.Origin, error, exception);
        return (error, await AnswerErrorAsync(error));
    }

    /// <summary>The error response of <paramref name="error"/>, as <see cref="ForwardErrorResponses"/> describes it for both paths.</summary>
    private async ValueTask<int> AnswerErrorAsync(ForwardError error)
    {
        var (status, body) = ForwardErrorResponses.Describe(error);
        _block.Clear();
        HpackEncoder.WriteStatus(status, _block);
        HpackEncoder.WriteField("content-type"u8, "text/plain"u8, _block);
        Span<byte> length = stackalloc byte[20];
        System.Buffers.Text.Utf8Formatter.TryFormat(body.Length, length, out var digits);
        HpackEncoder.WriteField("content-length"u8, length[..digits], _block);
        WriteDate();
        _headersPending = true;
        CountCompleted();
        if (await SendAsync(body, endStream: true) && !RequestEnded)
        {
            Fail(Http2Error.NoError); // the body is not wanted (RFC 9113 §8.1), as after an early upstream answer
        }

        return status;
    }

    /// <summary>A request that is not served as it stands: a stream error, or Kestrel's status for it.</summary>
    private ValueTask AnswerProblemAsync()
    {
        if (_problem == Problem.Unsupported)
        {
            Refuse(); // what RequestHead leaves out (targets Kestrel normalizes, odd hosts): Kestrel's to answer
            return ValueTask.CompletedTask;
        }

        var status = _problem switch
        {
            Problem.TooLarge => 431,
            Problem.UnknownExpectation => 417,
            Problem.Connect => 501,
            _ => 0,
        };
        if (status == 0)
        {
            Fail(Http2Error.ProtocolError);
            return ValueTask.CompletedTask;
        }

        _block.Clear();
        HpackEncoder.WriteStatus(status, _block);
        HpackEncoder.WriteField("content-length"u8, "0"u8, _block);
        WriteDate();
        _connection.WriteHeaders(this, _block.Written.Span, endStream: true);
        if (!RequestEnded)
        {
            Fail(Http2Error.NoError); // the body is not wanted
        }

        return ValueTask.CompletedTask;
    }

    private void WriteDate()
    {
        var services = _connection.Services;
        var line = services.Date.HeaderLine(services.Time.GetUtcNow()); // "Date: ...\r\n"
        HpackEncoder.WriteField("date"u8, line.AsSpan(6, line.Length - 8), _block);
    }

    /// <summary>
    /// Counts the request as completed, once, just before its last bytes are written, as the
    /// HTTP/1.1 fast path does.
    /// </summary>
    private void CountCompleted()
    {
        if (!_uncounted)
        {
            return;
        }

        _uncounted = false;
        var time = _connection.Services.Time;
        var ended = time.GetTimestamp();
        _connection.Listener.Stats.RequestCompleted(ConcurrencyTracker.ToMicros(time, ended), time.GetElapsedTime(_started, ended));
    }
}
