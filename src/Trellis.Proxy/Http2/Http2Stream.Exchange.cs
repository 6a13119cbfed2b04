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

    // The request as routing reads it; the response of the last attempt, held until the pipeline relays or
    // discards it, and the endpoint it came from; the body copy of the attempt.
    private RouteRequest _routeRequest;
    private UpstreamConnection? _held;
    private EndpointState? _heldEndpoint;
    private Task<ForwardError>? _bodyCopy;

    // Cancelled when the stream is reset, for the pipeline's waits; made on first use.
    private CancellationTokenSource? _clientGoneSource;

    // The request's x-request-id when the client sent none: generated once for retries and mirrors.
    private string? _requestId;
    private Func<string>? _requestIds;

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
        if (KestrelOnly.Listener(snapshot, listener.Name))
        {
            Refuse(); // queue-proxy duties live on the Kestrel path
            return;
        }

        var buffer = _head.Written.Span;
        var query = _request.Query(buffer);
        _routeRequest = new RouteRequest(
            _request.Method(buffer), _connection.Routing.Host(_request.Host(buffer)), _connection.Routing.Path(_request.Path(buffer)),
            query.IsEmpty ? null : Encoding.Latin1.GetString(query), this, _connection.LocalPort);
        var match = RequestPipeline.Route(snapshot, listener.Name, _routeRequest);
        if (match.Route is { NeedsKestrel: true })
        {
            Refuse(); // the routes changed since the connection started: the client retries on a connection Kestrel serves
            return;
        }

        var time = services.Time;
        _started = time.GetTimestamp();
        _uncounted = true;
        _telemetry.Reset();
        listener.Stats.Load.RequestStarted(ConcurrencyTracker.ToMicros(time, _started));
        try
        {
            await services.Pipeline.RunAsync(this, listener.Name, match);
        }
        finally
        {
            CountCompleted();
            EndExchange();
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

    /// <summary>
    /// (3) One try at the endpoint, as on the HTTP/1.1 fast path: the upstream head (written once per request) on a
    /// pooled or new connection, the body beside it (held whole or streamed), the response head read and held. A
    /// request that is all in hand (no body, a body held whole, or one not read yet) and fails on a reused connection
    /// before any answer (a stale keep-alive) is sent once more on a new one; a body partly sent as it streams is not.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<AttemptResult> AttemptAsync(Attempt attempt, CancellationToken token)
    {
        var services = _connection.Services;
        if (attempt.Number == 0)
        {
            WriteUpstreamHead(_upstreamHead, attempt.Route, attempt.Matched, attempt.RequestHeaders, authority: null);
        }

        var pool = services.Pool;
        var endpoint = attempt.Endpoint;
        for (var resend = 0; ; resend++)
        {
            var (upstream, _) = await UpstreamAttempt.OpenAsync(pool, attempt.Cluster, endpoint, _connection.Listener.Identity, attempt.Route.UpstreamAuthority(_routeRequest.Authority), resend, token);
            if (upstream is null)
            {
                return AttemptResult.Failed(token.IsCancellationRequested ? ForwardError.UpstreamTimeout : ForwardError.UpstreamConnect, requestSent: false, _reset);
            }

            // Published for a reset to close; whoever takes it back out of _upstream owns it (see OnReset).
            Interlocked.Exchange(ref _upstream, upstream);
            if (_reset)
            {
                TakeBackUpstream()?.Dispose();
                return AttemptResult.Failed(ForwardError.RequestCanceled, requestSent: false, clientGone: true);
            }

            var sent = await SendUpstreamAsync(upstream, _upstreamHead.Written, token);
            if (sent == ForwardError.None && _hasBody)
            {
                if (_expectContinue)
                {
                    _expectContinue = false; // once, also when the request is sent again
                    WriteContinue();
                }

                _bodyCopy = _bodyProgress == BodyProgress.Held ? SendHeldBodyAsync(upstream, token) : CopyBodyAsync(upstream, token);
            }

            var received = sent == ForwardError.None ? await upstream.ReadResponseHeadAsync(null, token) : sent;
            if (received == ForwardError.None)
            {
                _held = upstream;
                _heldEndpoint = endpoint;
                return AttemptResult.Responded(upstream.Head.Status);
            }

            var failed = upstream;
            TakeBackUpstream();
            upstream.Dispose();
            await StopBodyCopyAsync();
            if (!UpstreamAttempt.MayResend(failed, resend, _bodyProgress != BodyProgress.Streaming, received, token))
            {
                return AttemptResult.Failed(token.IsCancellationRequested ? ForwardError.UpstreamTimeout : received, requestSent: true, _reset);
            }
        }
    }

    public bool Contains(ReadOnlySpan<char> name) => _held is { } response && ResponseFieldLookup.Contains(response, name);

    public bool TryGetResponseHeader(string name, out string value)
    {
        if (_held is { } held)
        {
            return held.Head.Fields.TryGetJoined(held.Buffer.AsSpan(held.Start, held.Head.Length), name, out value);
        }

        value = string.Empty;
        return false;
    }

    public void DiscardResponse()
    {
        if (_held is { } held)
        {
            _held = null;
            TakeBackUpstream();
            held.Dispose();
        }
    }

    /// <summary>(4) Relays the held response with the pipeline's edits; the upstream connection goes back to the pool after a clean exchange.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ForwardError> RelayAsync(ResponseEdits edits, CancellationToken token)
    {
        var upstream = _held!;
        var endpoint = _heldEndpoint!;
        _held = null;
        var reusable = false;
        try
        {
            (var result, reusable) = await RelayResponseAsync(upstream, edits, token);
            if (_bodyCopy is { } copy && (!copy.IsCompleted || await copy != ForwardError.None))
            {
                // Answered before the whole body came: the upstream connection is mid-message, and the
                // client may stop sending (RFC 9113 §8.1: RST_STREAM NO_ERROR after a complete response).
                reusable = false;
                if (result.Error == ForwardError.None && !RequestEnded)
                {
                    Fail(Http2Error.NoError);
                }
            }

            return result.Error;
        }
        finally
        {
            if (TakeBackUpstream() is null)
            {
                reusable = false; // a reset took it and closes it: it must not go back to the pool
            }

            if (reusable)
            {
                _connection.Services.Pool.Return(upstream);
            }
            else
            {
                upstream.Dispose();
            }

            await StopBodyCopyAsync();
        }
    }

    /// <summary>Whoever takes the upstream connection out of <see cref="_upstream"/> owns it (a reset may take it first).</summary>
    private UpstreamConnection? TakeBackUpstream() => Interlocked.Exchange(ref _upstream, null);

    /// <summary>
    /// Stops a body copy before the next attempt or the end: it waits for the body (and wakes canceled) or ends with
    /// the closed connection; the next attempt's copy must not share <see cref="_chunk"/> with it.
    /// </summary>
    private async ValueTask StopBodyCopyAsync()
    {
        if (_bodyCopy is { } copy)
        {
            _bodyCopy = null;
            if (!copy.IsCompleted)
            {
                _body.Reader.CancelPendingRead();
            }

            await copy;
        }
    }

    /// <summary>After the pipeline: nothing of this request may outlive it.</summary>
    private void EndExchange()
    {
        DiscardResponse();
        _requestId = null;
        _clientGoneSource = null; // not disposed: a reset may cancel it still, and it holds no timer
    }

    public string Scheme => "http";

    public string ClientAddress => _connection.ClientIp;

    public Security.PeerIdentity? Peer => _connection.Peer;

    public string? SourceIdentity => _connection.Listener.Identity;

    RouteRequest IExchange.Request => _routeRequest;

    public bool HasBody => _hasBody;

    public CancellationToken ClientGone
    {
        get
        {
            var source = _clientGoneSource ??= new CancellationTokenSource();
            if (_reset)
            {
                source.Cancel();
            }

            return source.Token;
        }
    }

    /// <summary>Called by <see cref="OnReset"/>: waits of the pipeline end, off the read loop.</summary>
    private void CancelWaits()
    {
        if (Volatile.Read(ref _clientGoneSource) is { } source)
        {
            _ = source.CancelAsync();
        }
    }

    /// <summary>(3) The upstream request head (see <see cref="UpstreamHeadWriter"/>); <paramref name="authority"/> replaces the Host when given (mirrors).</summary>
    private void WriteUpstreamHead(HeadBuilder output, CompiledRoute route, CompiledMatch? matched, HeaderOperations? operations, string? authority) =>
        UpstreamHeadWriter.Write(
            output, _request, _head.Written.Span,
            new ClientRequest(_routeRequest.Authority, _routeRequest.Path, _connection.ClientIp, "http", _requestIds ??= RequestId, Telemetry: _telemetry),
            route, matched, operations, authority);

    private string RequestId() => _requestId ??= _connection.Services.Options.RequestIdGenerator();

    /// <summary>A mirror's copy: the upstream head with the shadow authority, and the body when it is held whole.</summary>
    public bool WriteMirror(HeadBuilder output, CompiledRoute route, CompiledMatch? matched, HeaderOperations? operations, string authority)
    {
        if (_hasBody && (_bodyProgress != BodyProgress.Held || _upstreamChunked))
        {
            return false; // a chunked re-framing of a held body is possible, but mirrors of such bodies are rare: not copied
        }

        WriteUpstreamHead(output, route, matched, operations, authority);
        foreach (var segment in _heldBody)
        {
            output.Append(segment.Span);
        }

        return true;
    }

    /// <summary>The proxy's own answer (<see cref="LocalReply"/>) as HEADERS and DATA; a reset stream gets nothing.</summary>
    public async ValueTask AnswerAsync(LocalReply reply)
    {
        if (_reset)
        {
            return;
        }

        _block.Clear();
        HpackEncoder.WriteStatus(reply.Status, _block);
        if (reply.ContentType is not null)
        {
            WriteField("content-type", reply.ContentType);
        }

        Span<byte> length = stackalloc byte[20];
        System.Buffers.Text.Utf8Formatter.TryFormat(reply.Body.Length, length, out var digits);
        HpackEncoder.WriteField("content-length"u8, length[..digits], _block);
        WriteDate();
        foreach (var (name, value) in reply.Headers ?? [])
        {
            WriteField(name, value);
        }

        if (reply.Flags != ResponseFlags.None)
        {
            HpackEncoder.WriteField(ResponseFlagNames.HeaderUtf8, reply.Flags.ToUtf8(), _block);
        }

        _headersPending = true;
        CountCompleted();
        if (await SendAsync(reply.Body, endStream: true) && !RequestEnded)
        {
            Fail(Http2Error.NoError); // the body is not wanted (RFC 9113 §8.1), as after an early upstream answer
        }
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
