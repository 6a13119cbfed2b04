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

/// <summary>(3) One exchange with the upstream: connection, request head and body, the client watch, the response head.</summary>
internal sealed partial class Http1Connection
{
    /// <summary>Written to a client that sent a FIN, to tell a half-close from a close (see <see cref="WatchClientAsync"/>).</summary>
    private static readonly byte[] ContinueProbe = "HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray();

    /// <summary>The client of the watched exchange sent a FIN after its whole request: half-closed, or closed.</summary>
    private volatile bool _clientHalfClosed;

    /// <summary>Who writes to the client during a watched exchange: <see cref="ClientWriter"/>.</summary>
    private int _clientWriter;

    private static class ClientWriter
    {
        public const int None = 0;
        public const int Probe = 1;
        public const int Response = 2;
    }

    // The response of the last attempt, held until the pipeline relays or discards it, and the endpoint it came from.
    private UpstreamConnection? _held;
    private EndpointState? _heldEndpoint;

    // Cancelled when the client goes away, for the pipeline's waits; made on first use, reset per request.
    private CancellationTokenSource? _clientGoneSource;

    // The request's x-request-id when the client sent none: generated once, so that retries and mirrors carry the same.
    private string? _requestId;
    private Func<string>? _requestIds;

    public string Scheme => "http";

    public string ClientAddress => _clientIp;

    public Security.PeerIdentity? Peer => _transport.Peer;

    public string? SourceIdentity => _listener.Identity;

    RouteRequest IExchange.Request => _request;

    public bool HasBody => _head.Chunked || _head.ContentLength > 0;

    public CancellationToken ClientGone
    {
        get
        {
            if (_clientGoneSource is null || !_clientGoneSource.TryReset())
            {
                _clientGoneSource = new CancellationTokenSource(); // the old one is not disposed: the watch may cancel it still
            }

            ArmClientWatch();
            if (_clientGone)
            {
                _clientGoneSource.Cancel();
            }

            return _clientGoneSource.Token;
        }
    }

    /// <summary>
    /// Reads the rest of a body of at most <paramref name="limit"/> bytes into the input buffer, so that it is whole
    /// there (<see cref="_bodyBuffered"/>) and can be sent more than once. Not for <c>Expect: 100-continue</c>, whose
    /// client waits for a 100 before it sends the body.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> HoldBodyAsync(int limit)
    {
        if (_bodyBuffered)
        {
            return true;
        }

        if (_head.ExpectContinue || (!_head.Chunked && _head.ContentLength > limit))
        {
            return false;
        }

        while (!_bodyBuffered)
        {
            var body = _filled - _head.Length;
            if (body >= limit + 2048)
            {
                return false; // a chunked body past the bound (its framing allowed for): it streams
            }

            if (_filled == _in.Length)
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Min(_in.Length * 2, _head.Length + limit + 4096));
                _in.AsSpan(0, _filled).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_in);
                _in = larger;
            }

            int read;
            try
            {
                read = await _transport.ReceiveAsync(_in.AsMemory(_filled));
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                read = 0;
            }

            if (read == 0)
            {
                _clientGone = true;
                return false;
            }

            _filled += read;
            var framed = FrameBody();
            CountRequestInBuffer();
            if (!framed)
            {
                _clientGone = true; // a chunked body that breaks its framing: no request to answer
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// (3) One try at the endpoint: the upstream head (written once per request; retries send the same) and the body
    /// in hand go out on a pooled or new connection, a streamed body follows beside the response, and the response head
    /// is read and held. A reused connection the upstream closed meanwhile fails before any answer; a request that is
    /// all in hand is then sent once more on a new connection (<see cref="UpstreamAttempt.MayResend"/>).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<AttemptResult> AttemptAsync(Attempt attempt, CancellationToken token)
    {
        var bodyBuffered = _bodyBuffered;
        if (attempt.Number == 0)
        {
            WriteUpstreamHead(_out, attempt.Route, attempt.Matched, attempt.RequestHeaders, authority: null);
            _out.Append(_in.AsSpan(_head.Length, (int)_bodyInBuffer));
        }

        if (bodyBuffered)
        {
            ArmClientWatch(); // a streamed body's own reads notice a client that leaves
        }

        var pool = _services.Pool;
        var endpoint = attempt.Endpoint;
        for (var resend = 0; ; resend++)
        {
            var (upstream, _) = await UpstreamAttempt.OpenAsync(pool, attempt.Cluster, endpoint, _listener.Identity, attempt.Route.UpstreamAuthority(_request.Authority), resend, token);
            if (upstream is null)
            {
                DisarmClientWatch();
                return AttemptResult.Failed(token.IsCancellationRequested ? ForwardError.UpstreamTimeout : ForwardError.UpstreamConnect, requestSent: false, _clientGone);
            }

            Interlocked.Exchange(ref _upstream, upstream); // whoever takes it back out of _upstream owns it (see WatchClientAsync)
            var sent = await SendHeadAsync(upstream, token);
            if (sent == ForwardError.None && !bodyBuffered)
            {
                // The rest of the body flows while the answer is awaited: an upstream may answer
                // before it has read everything (and with both sides writing, waiting could deadlock).
                _bodyCopy = CopyRequestBodyAsync(upstream, token);
            }

            var received = sent == ForwardError.None ? await ReadResponseHeadAsync(upstream, token) : sent;
            if (received == ForwardError.None)
            {
                _held = upstream;
                _heldEndpoint = endpoint;
                return AttemptResult.Responded(upstream.Head.Status);
            }

            var again = UpstreamAttempt.MayResend(upstream, resend, bodyBuffered, received, token);
            upstream.Dispose();
            if (!again)
            {
                DisarmClientWatch();
                ClaimClientWrites();
                return AttemptResult.Failed(token.IsCancellationRequested ? ForwardError.UpstreamTimeout : received, requestSent: true, _clientGone);
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
        DisarmClientWatch();
        _held?.Dispose();
        _held = null;
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
            if (_bodyBuffered)
            {
                ConsumeRequest();
            }

            (var result, reusable) = await RelayResponseAsync(upstream, edits, token);
            if (_bodyCopy is { } copy)
            {
                // Answered before the whole body arrived: neither connection is at a message boundary.
                var copied = copy.IsCompleted ? await copy : ForwardError.RequestBodyClient;
                if (copied != ForwardError.None)
                {
                    reusable = false;
                    result = result with { KeepAlive = false };
                    _lingerOnClose = !_clientGone; // the rest of the body may still be on its way
                }
                else
                {
                    _bodyCopy = null;
                }
            }

            _keepAlive = result.KeepAlive;
            return result.Error;
        }
        finally
        {
            if (!DisarmClientWatch())
            {
                reusable = false;
            }

            if (reusable)
            {
                _services.Pool.Return(upstream);
            }
            else
            {
                upstream.Dispose();
            }
        }
    }

    /// <summary>A mirror's copy: the upstream head with the shadow authority, and the body when it is whole in the buffer.</summary>
    public bool WriteMirror(HeadBuilder output, CompiledRoute route, CompiledMatch? matched, HeaderOperations? operations, string authority)
    {
        if (HasBody && !_bodyBuffered)
        {
            return false;
        }

        WriteUpstreamHead(output, route, matched, operations, authority);
        output.Append(_in.AsSpan(_head.Length, (int)_bodyInBuffer));
        return true;
    }

    /// <summary>After the pipeline: nothing of this request may outlive it.</summary>
    private void EndExchange()
    {
        if (_held is not null)
        {
            DiscardResponse();
        }

        _requestId = null;
    }

    private string RequestId() => _requestId ??= _services.Options.RequestIdGenerator();

    /// <summary>
    /// A client that goes away while its exchange waits on the upstream must cancel that exchange, as
    /// the Kestrel path's RequestAborted does. Watching costs a pending read on the client socket, so
    /// the listener's sweep starts it only for an exchange that has run <see cref="ClientWatchDelay"/>;
    /// quick exchanges pay two field writes.
    /// </summary>
    private void ArmClientWatch()
    {
        Interlocked.Increment(ref _exchange);
        _clientHalfClosed = false;
        Volatile.Write(ref _clientWriter, ClientWriter.None);
        _watchable = true;
    }

    /// <summary>Before the exchange writes its answer: waits out a probe being sent, and keeps any later one off the socket.</summary>
    private void ClaimClientWrites()
    {
        while (Interlocked.CompareExchange(ref _clientWriter, ClientWriter.Response, ClientWriter.None) == ClientWriter.Probe)
        {
            Thread.SpinWait(1); // a 25-byte send into an idle socket
        }
    }

    /// <summary>Ends the watch; false when the watch took the upstream connection (to close it), which then must not be pooled.</summary>
    private bool DisarmClientWatch()
    {
        _watchable = false;
        return Interlocked.Exchange(ref _upstream, null) is not null;
    }

    /// <summary>
    /// Called by the listener about once a second, off the request path: closes a connection that
    /// waited too long for a head or lingered long enough (<see cref="LingerAsync"/>), and starts
    /// watching the client of an exchange that runs long (or, once that client has half-closed,
    /// checks it for a reset).
    /// </summary>
    public void Sweep(long now)
    {
        if (Volatile.Read(ref _state) == States.Lingering)
        {
            if (LingerOver(now))
            {
                _socket.Dispose(); // ends the lingering read
            }

            return;
        }

        var elapsed = _services.Time.GetElapsedTime(Volatile.Read(ref _phaseStarted), now);
        if (_waitingForHead)
        {
            if (elapsed > KeepAliveTimeout)
            {
                Abort(); // idle too long, or a head that never completes (slowloris)
            }
        }
        else if (_watchable && elapsed > ClientWatchDelay)
        {
            if (_clientHalfClosed)
            {
                // A zero-byte read only ever says "end of stream" again; a reset after the FIN shows as a socket error.
                if (SocketError() != 0)
                {
                    OnClientGone(Volatile.Read(ref _exchange));
                }
            }
            else if (Volatile.Read(ref _watching) == 0)
            {
                _ = WatchClientAsync(Volatile.Read(ref _exchange));
            }
        }
    }

    /// <summary>
    /// A zero-byte read completes when the client sends more (a pipelined request: still there), sends
    /// a FIN, or resets. A reset is a client gone: the upstream connection of the same exchange is
    /// closed, which ends its pending read, and the exchange ends as <see cref="ForwardError.RequestCanceled"/>.
    /// A FIN after a whole request (only such exchanges are watched) is either a close, a client gone
    /// too, or a half-close (shutdown(SHUT_WR)) of a client that still reads its response. The two look
    /// the same from here, so the client is asked: an interim <c>100 Continue</c>, which every HTTP/1.1
    /// client must parse and may ignore (RFC 9110 §15.2), is ignored by a half-closed client, while a
    /// closed socket answers it with a reset, which the next sweep finds (<see cref="Sweep"/>). Kestrel,
    /// and so the Kestrel path, takes every FIN for a close.
    /// </summary>
    private async Task WatchClientAsync(int exchange)
    {
        if (Interlocked.Exchange(ref _watching, 1) != 0)
        {
            return;
        }

        try
        {
            await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, CancellationToken.None);
            if (_socket.Available == 0 && Volatile.Read(ref _exchange) == exchange)
            {
                _clientHalfClosed = true; // nothing to read and no error: end of stream
                ProbeClient();
            }

            return;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Reset or closed: gone.
        }
        finally
        {
            Volatile.Write(ref _watching, 0);
        }

        OnClientGone(exchange);
    }

    /// <summary>Sends <see cref="ContinueProbe"/> unless the exchange has started its answer.</summary>
    private void ProbeClient()
    {
        if (Interlocked.CompareExchange(ref _clientWriter, ClientWriter.Probe, ClientWriter.None) != ClientWriter.None)
        {
            return;
        }

        try
        {
            _transport.Send(ContinueProbe);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already reset or closed: the next sweep finds it.
        }
        finally
        {
            Volatile.Write(ref _clientWriter, ClientWriter.None);
        }
    }

    private void OnClientGone(int exchange)
    {
        if (Volatile.Read(ref _exchange) != exchange)
        {
            return;
        }

        if (Interlocked.Exchange(ref _upstream, null) is { } upstream)
        {
            _clientGone = true;
            upstream.Dispose();
        }
        else if (_clientGoneSource is { } waiting)
        {
            _clientGone = true; // gone while the pipeline waits (a delay, a backoff, the activator)
            _ = waiting.CancelAsync(); // the pipeline's wait ends off the sweep's thread
        }
    }

    /// <summary>The client socket's pending error (SO_ERROR): non-zero once a reset arrived; -1 when the socket is closed.</summary>
    private int SocketError()
    {
        try
        {
            return (int)_socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return -1;
        }
    }

    /// <summary>(3) Sends the head and the body bytes already read.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<ForwardError> SendHeadAsync(UpstreamConnection upstream, HeadBuilder head, CancellationToken token)
    {
        try
        {
            await upstream.SendAsync(head.Written, token);
            return ForwardError.None;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return ForwardError.UpstreamRequest;
        }
    }

    private ValueTask<ForwardError> SendHeadAsync(UpstreamConnection upstream, CancellationToken token) => SendHeadAsync(upstream, _out, token);

    /// <summary>
    /// (3) Copies the rest of the request body from the client, as framed (Content-Length bytes, or
    /// chunks up to the end of the trailers), running beside the response. Bytes after a chunked body
    /// are the next request's: they stay in the input buffer. A client that leaves or breaks the
    /// framing ends the exchange: the upstream connection is closed, which ends its pending read.
    /// </summary>
    private async Task<ForwardError> CopyRequestBodyAsync(UpstreamConnection upstream, CancellationToken token)
    {
        await Task.Yield(); // the response head is read meanwhile
        var remaining = _head.Chunked ? long.MaxValue : _head.ContentLength - _bodyInBuffer;
        var buffer = ArrayPool<byte>.Shared.Rent(LargeCopyBufferSize);
        try
        {
            while (true)
            {
                int read;
                try
                {
                    read = await _transport.ReceiveAsync(buffer.AsMemory(0, (int)Math.Min(remaining, buffer.Length)));
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    read = 0;
                }

                var used = read > 0 && _head.Chunked ? _bodyFraming.Scan(buffer.AsSpan(0, read)) : read;
                if (used <= 0)
                {
                    _clientGone = true;
                    upstream.Dispose();
                    return ForwardError.RequestBodyClient;
                }

                try
                {
                    await upstream.SendAsync(buffer.AsMemory(0, used), token);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
                {
                    return ForwardError.RequestBodyUpstream;
                }

                remaining -= used;
                _telemetry.RequestBytes += used;
                if (remaining == 0 || _bodyFraming.IsDone)
                {
                    KeepPipelined(buffer.AsSpan(used, read - used));
                    return ForwardError.None;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>After a streamed body: what followed it becomes the start of the input buffer.</summary>
    private void KeepPipelined(ReadOnlySpan<byte> rest)
    {
        if (rest.Length > _in.Length)
        {
            ArrayPool<byte>.Shared.Return(_in);
            _in = ArrayPool<byte>.Shared.Rent(rest.Length);
        }

        rest.CopyTo(_in);
        _filled = rest.Length;
    }

    /// <summary>(4) Reads the final response head; a 100 the client asked for (Expect: 100-continue) is relayed to it.</summary>
    private ValueTask<ForwardError> ReadResponseHeadAsync(UpstreamConnection upstream, CancellationToken token) =>
        upstream.ReadResponseHeadAsync(_head.ExpectContinue ? _transport : null, token);
}
