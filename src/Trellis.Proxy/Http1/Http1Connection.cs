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
using Trellis.Proxy.Routing;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Http1;

/// <summary>
/// One client connection of a fast-path listener: reads request heads, routes them with the same
/// compiled snapshot as the Kestrel path, and relays each exchange over a pooled upstream connection
/// as bytes, without building request or response objects. Steps per request:
/// (1) read until a whole head is buffered and parse it (<see cref="RequestHead"/>);
/// (2) route and pick; anything the fast path does not do itself (serving listeners, redirects,
///     activation, HTTP/2 upstreams, and every head <see cref="RequestHead"/> leaves out) hands the
///     connection, with the bytes read so far, to the listener's Kestrel server for good;
/// (3) write the upstream head (hop-by-hop fields dropped, Host, x-forwarded-*, x-request-id, the
///     route's header operations), send it with the body;
/// (4) read the response head, relay it rewritten the same way, then the body as framed;
/// (5) failures are <see cref="ForwardError"/>s answered with the Kestrel path's responses, or, once
///     the response has started, a closed connection so a truncated body never looks complete.
/// </summary>
internal sealed class Http1Connection : IRequestHeaderLookup
{
    private const int InitialBufferSize = 8 * 1024;
    private const int MaxHeadSize = 32 * 1024;
    private const int LargeCopyBufferSize = 64 * 1024;

    private static readonly byte[] ContinueHead = "HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray();

    /// <summary>An exchange running longer than this starts watching for the client going away (checked by the listener's sweep).</summary>
    private static readonly TimeSpan ClientWatchDelay = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// A connection waiting this long for (the rest of) a request head is closed: Kestrel's keep-alive
    /// timeout. Kestrel also bounds a started head by 30 s; here the one limit covers both.
    /// </summary>
    private static readonly TimeSpan KeepAliveTimeout = TimeSpan.FromSeconds(130);

    private readonly Socket _socket;
    private readonly Http1Listener _listener;
    private readonly Http1Services _services;
    private readonly RequestHead _head = new();
    private readonly HeadBuilder _out = new(InitialBufferSize);
    private readonly string _clientIp;
    private readonly int _localPort;
    private byte[] _in = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
    private int _filled;
    private string _host = string.Empty;
    private string _path = "/";
    private int _state;

    // The request body: how much of it is in the input buffer, whether all of it is, how a chunked
    // one is framed so far, and the copy of the rest while the exchange goes on.
    private long _bodyInBuffer;
    private bool _bodyBuffered;
    private ChunkedScanner _bodyFraming;
    private Task<ForwardError>? _bodyCopy;

    // The request being served: when it started, and whether its completion is yet to be counted.
    private long _started;
    private bool _uncounted;

    // What the listener's sweep looks at (see Sweep): the keep-alive timeout while waiting for a head,
    // and noticing a client that leaves while its exchange waits on the upstream (see WatchClientAsync).
    private volatile bool _waitingForHead = true;
    private volatile bool _watchable;
    private long _phaseStarted;
    private UpstreamConnection? _upstream;
    private int _exchange;
    private int _watching;
    private volatile bool _clientGone;

    public Http1Connection(Socket socket, Http1Listener listener)
    {
        _socket = socket;
        _listener = listener;
        _services = listener.Services;
        _clientIp = (socket.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? string.Empty;
        _localPort = (socket.LocalEndPoint as IPEndPoint)?.Port ?? 0;
        _phaseStarted = _services.Time.GetTimestamp();
    }

    private enum Next
    {
        Continue,
        Close,
        Handoff,
    }

    private static class States
    {
        public const int Idle = 0;
        public const int Busy = 1;
        public const int Closed = 2;
    }

    public Task Completion { get; private set; } = Task.CompletedTask;

    public void Start() => Completion = RunAsync();

    /// <summary>Listener stop: a connection between requests closes now; a busy one closes after its response.</summary>
    public void CloseIfIdle()
    {
        if (Interlocked.CompareExchange(ref _state, States.Closed, States.Idle) == States.Idle)
        {
            _socket.Dispose();
        }
    }

    /// <summary>Listener stop after the drain timeout: whatever is still running is cut off.</summary>
    public void Abort()
    {
        Volatile.Write(ref _state, States.Closed);
        _socket.Dispose();
        Volatile.Read(ref _upstream)?.Dispose();
    }

    public bool TryGetHeader(string name, out string value)
    {
        var buffer = _in.AsSpan(0, _head.Length);
        string? joined = null;
        foreach (var field in _head.Fields.AsSpan())
        {
            if (HeaderFields.NameEquals(field.Name(buffer), name))
            {
                var text = Encoding.Latin1.GetString(field.Value(buffer));
                joined = joined is null ? text : string.Concat(joined, ",", text);
            }
        }

        value = joined ?? string.Empty;
        return joined is not null;
    }

    private async Task RunAsync()
    {
        var handedOff = false;
        try
        {
            while (true)
            {
                // (1) Pipelined bytes may already hold the next head.
                if (_filled > 0 && !MarkBusy())
                {
                    return;
                }

                var parse = HeadParse.Incomplete;
                _waitingForHead = true;
                while (_filled == 0 || (parse = _head.Parse(_in.AsSpan(0, _filled))) == HeadParse.Incomplete)
                {
                    if (_filled == _in.Length && !GrowInput())
                    {
                        parse = HeadParse.Unsupported; // Kestrel answers 431
                        break;
                    }

                    var read = await _socket.ReceiveAsync(_in.AsMemory(_filled), SocketFlags.None);
                    if (read == 0)
                    {
                        return;
                    }

                    if (_filled == 0 && !MarkBusy())
                    {
                        return; // the listener closed us while we waited
                    }

                    _filled += read;
                }

                var next = parse == HeadParse.Complete ? await HandleAsync() : Next.Handoff;
                if (next == Next.Handoff)
                {
                    handedOff = _listener.Handoff.TryHand(_socket, _in.AsSpan(0, _filled));
                    return;
                }

                if (next == Next.Close || _listener.Stopping || Interlocked.CompareExchange(ref _state, States.Idle, States.Busy) != States.Busy)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away or the listener closed the connection: nothing to answer.
        }
        finally
        {
            Volatile.Write(ref _state, States.Closed);
            if (!handedOff)
            {
                _socket.Dispose();
            }

            if (_bodyCopy is { } copy)
            {
                await copy; // ends once both sockets are closed; it may still write into the input buffer until then
            }

            _out.ReturnBuffer();
            ArrayPool<byte>.Shared.Return(_in);
            _in = [];
            _listener.Remove(this);
        }
    }

    /// <summary>
    /// Counts the request as completed, once. Called just before the last bytes of a response go
    /// out, as the Kestrel path counts before Kestrel ends the response: whoever has read the
    /// whole response then finds it counted.
    /// </summary>
    private void CountCompleted()
    {
        if (!_uncounted)
        {
            return;
        }

        _uncounted = false;
        var time = _services.Time;
        var ended = time.GetTimestamp();
        _listener.Stats.RequestCompleted(ConcurrencyTracker.ToMicros(time, ended), time.GetElapsedTime(_started, ended));
        Volatile.Write(ref _phaseStarted, ended); // the keep-alive wait starts about now
    }

    /// <summary>How much of the request body the buffer holds; false when chunked framing is already broken there.</summary>
    private bool FrameBody()
    {
        var available = _filled - _head.Length;
        if (!_head.Chunked)
        {
            _bodyInBuffer = Math.Min(available, _head.ContentLength);
            _bodyBuffered = _bodyInBuffer == _head.ContentLength;
            return true;
        }

        _bodyFraming = default;
        var used = _bodyFraming.Scan(_in.AsSpan(_head.Length, available));
        _bodyInBuffer = Math.Max(used, 0);
        _bodyBuffered = _bodyFraming.IsDone;
        return used >= 0;
    }

    /// <summary>Idle → busy when a request's first bytes arrive; false when the listener has closed the connection.</summary>
    private bool MarkBusy() => Interlocked.CompareExchange(ref _state, States.Busy, States.Idle) != States.Closed;

    /// <summary>(2) Routes the parsed request and, unless it belongs to Kestrel, serves it. Leaves the input buffer at the next request.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Next> HandleAsync()
    {
        var snapshot = _services.Snapshots.Current;
        if (snapshot.ServingByListener.Count != 0 && snapshot.ServingByListener.ContainsKey(_listener.Name))
        {
            return Next.Handoff; // queue-proxy duties (breaker, revision timeouts) live on the Kestrel path
        }

        if (!FrameBody())
        {
            return Next.Handoff; // a malformed chunked body: Kestrel's 400
        }

        var buffer = _in.AsSpan(0, _filled);
        var method = _head.Method(buffer);
        var host = CachedHost(_head.Host(buffer));
        var path = CachedPath(_head.Path(buffer));
        var query = _head.Query(buffer);
        var match = snapshot.RouteTablesByListener.TryGetValue(_listener.Name, out var table)
            ? table.Match(new RouteRequest(method, host, path, query.IsEmpty ? null : Encoding.Latin1.GetString(query), this, _localPort))
            : default;
        var route = match.Route;
        ClusterState? cluster = null;
        EndpointState? endpoint = null;
        if (route is not null)
        {
            if (route.Redirect is not null)
            {
                return Next.Handoff;
            }

            cluster = route.PickCluster(_services.Options.Random);
            if (cluster.Protocol == UpstreamProtocol.Http2 || cluster.EndpointCapacity > 0)
            {
                return Next.Handoff;
            }

            endpoint = cluster.PickEndpoint();
            if (endpoint is null && cluster.Activation is not null)
            {
                return Next.Handoff;
            }
        }

        // From here on the request is ours.
        var time = _services.Time;
        var started = _started = time.GetTimestamp();
        _waitingForHead = false;
        Volatile.Write(ref _phaseStarted, started);
        _uncounted = true;
        _listener.Stats.Load.RequestStarted(ConcurrencyTracker.ToMicros(time, started));
        var error = ForwardError.None;
        var status = 0;
        var keepAlive = false;
        try
        {
            if (route is null || endpoint is null)
            {
                error = route is null ? ForwardError.NoRoute : ForwardError.NoHealthyUpstream;
                (status, keepAlive) = await AnswerErrorAsync(error);
            }
            else
            {
                (error, status, keepAlive) = await ForwardAsync(route, match.Matched, endpoint, host, path);
            }
        }
        finally
        {
            CountCompleted();
            if (_services.AccessLog.IsEnabled(LogLevel.Debug))
            {
                ProxyLog.AccessLog(
                    _services.AccessLog, _listener.Name, method, host, path, status, error, route?.Name ?? string.Empty,
                    cluster?.Name ?? string.Empty, endpoint?.Origin ?? string.Empty, time.GetElapsedTime(started).TotalMilliseconds);
            }
        }

        return keepAlive ? Next.Continue : Next.Close;
    }

    /// <summary>(3)–(5) One exchange with the endpoint. Returns the error, the status sent, and whether the client connection goes on.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(ForwardError Error, int Status, bool KeepAlive)> ForwardAsync(
        CompiledRoute route, CompiledMatch? matched, EndpointState endpoint, string host, string path)
    {
        var bodyBuffered = _bodyBuffered;
        WriteUpstreamHead(route, matched, host, path);
        _out.Append(_in.AsSpan(_head.Length, (int)_bodyInBuffer));

        using var timeout = route.Timeout is { } limit ? new CancellationTokenSource(limit, _services.Time) : null;
        var token = timeout?.Token ?? CancellationToken.None;
        var pool = _services.Pool;
        if (bodyBuffered)
        {
            ArmClientWatch(); // a streamed body's own reads notice a client that leaves
        }

        endpoint.RequestStarted();
        UpstreamConnection? upstream = null;
        var reusable = false;
        try
        {
            // A reused connection the upstream has closed meanwhile fails before any answer; a request
            // that is all in hand is then sent once more on a new connection, as SocketsHttpHandler does.
            for (var attempt = 0; ; attempt++)
            {
                upstream = attempt == 0 ? pool.TakeIdle(endpoint.Address, endpoint.Port) : null;
                if (upstream is null)
                {
                    (upstream, var connectError) = await pool.ConnectAsync(endpoint.Address, endpoint.Port);
                    if (upstream is null)
                    {
                        return await FailAsync(endpoint, ForwardError.UpstreamConnect, connectError);
                    }
                }

                Volatile.Write(ref _upstream, upstream);
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
                    break;
                }

                var stale = upstream.Reused && upstream.End == 0 && bodyBuffered && attempt == 0 && !token.IsCancellationRequested
                    && received is ForwardError.UpstreamRequest or ForwardError.RequestBodyUpstream;
                upstream.Dispose();
                upstream = null;
                if (!stale)
                {
                    var error = token.IsCancellationRequested ? ForwardError.UpstreamTimeout : received;
                    return await FailAsync(endpoint, error, null);
                }
            }

            if (bodyBuffered)
            {
                ConsumeRequest();
            }

            (var result, reusable) = await RelayResponseAsync(upstream, route, token);
            if (_bodyCopy is { } copy)
            {
                // Answered before the whole body arrived: neither connection is at a message boundary.
                var copied = copy.IsCompleted ? await copy : ForwardError.RequestBodyClient;
                if (copied != ForwardError.None)
                {
                    reusable = false;
                    result = result with { KeepAlive = false };
                }
                else
                {
                    _bodyCopy = null;
                }
            }

            return result;
        }
        finally
        {
            DisarmClientWatch();
            endpoint.RequestEnded();
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
        }
    }

    /// <summary>
    /// A client that goes away while its exchange waits on the upstream must cancel that exchange, as
    /// the Kestrel path's RequestAborted does. Watching costs a pending read on the client socket, so
    /// the listener's sweep starts it only for an exchange that has run <see cref="ClientWatchDelay"/>;
    /// quick exchanges pay two field writes.
    /// </summary>
    private void ArmClientWatch()
    {
        Interlocked.Increment(ref _exchange);
        _watchable = true;
    }

    private void DisarmClientWatch()
    {
        _watchable = false;
        Volatile.Write(ref _upstream, null);
    }

    /// <summary>
    /// Called by the listener about once a second, off the request path: closes a connection that
    /// waited too long for a head, and starts watching the client of an exchange that runs long.
    /// </summary>
    public void Sweep(long now)
    {
        var elapsed = _services.Time.GetElapsedTime(Volatile.Read(ref _phaseStarted), now);
        if (_waitingForHead)
        {
            if (elapsed > KeepAliveTimeout)
            {
                Abort(); // idle too long, or a head that never completes (slowloris)
            }
        }
        else if (_watchable && elapsed > ClientWatchDelay && Volatile.Read(ref _watching) == 0)
        {
            _ = WatchClientAsync(Volatile.Read(ref _exchange));
        }
    }

    /// <summary>
    /// A zero-byte read completes when the client sends more (a pipelined request: still there) or
    /// closes (nothing to read): then the upstream connection of the same exchange is closed, which
    /// ends its pending read, and the exchange ends as <see cref="ForwardError.RequestCanceled"/>.
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
            if (_socket.Available > 0)
            {
                return;
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Reset or closed: gone all the same.
        }
        finally
        {
            Volatile.Write(ref _watching, 0);
        }

        if (Volatile.Read(ref _exchange) == exchange && Volatile.Read(ref _upstream) is { } upstream)
        {
            _clientGone = true;
            upstream.Dispose();
        }
    }

    /// <summary>(3) Sends the head and the body bytes already read.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<ForwardError> SendHeadAsync(UpstreamConnection upstream, HeadBuilder head, CancellationToken token)
    {
        try
        {
            await SendAllAsync(upstream.Socket, head.Written, token);
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
                    read = await _socket.ReceiveAsync(buffer.AsMemory(0, (int)Math.Min(remaining, buffer.Length)), SocketFlags.None, CancellationToken.None);
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
                    await SendAllAsync(upstream.Socket, buffer.AsMemory(0, used), token);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
                {
                    return ForwardError.RequestBodyUpstream;
                }

                remaining -= used;
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

    /// <summary>(4) Reads until a final (non-1xx) response head is in the upstream buffer.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ForwardError> ReadResponseHeadAsync(UpstreamConnection upstream, CancellationToken token)
    {
        var head = upstream.Head;
        while (true)
        {
            var parse = upstream.End > upstream.Start ? head.Parse(upstream.Buffer.AsSpan(upstream.Start, upstream.End - upstream.Start)) : HeadParse.Incomplete;
            if (parse == HeadParse.Unsupported)
            {
                return ForwardError.UpstreamRequest;
            }

            if (parse == HeadParse.Complete)
            {
                if (head.Status >= 200)
                {
                    return ForwardError.None;
                }

                if (head.Status == 101)
                {
                    return ForwardError.UpstreamRequest; // we never asked to switch protocols
                }

                // A 100 the client asked for lets its body come; other 1xx interim responses are dropped,
                // as SocketsHttpHandler does on the Kestrel path.
                if (head.Status == 100 && _head.ExpectContinue)
                {
                    try
                    {
                        await SendAllAsync(_socket, ContinueHead, CancellationToken.None);
                    }
                    catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                    {
                        return ForwardError.RequestCanceled;
                    }
                }

                upstream.Start += head.Length;
                continue;
            }

            if (upstream.Start > 0)
            {
                upstream.Buffer.AsSpan(upstream.Start, upstream.End - upstream.Start).CopyTo(upstream.Buffer);
                upstream.End -= upstream.Start;
                upstream.Start = 0;
            }

            if (upstream.End == upstream.Buffer.Length)
            {
                return ForwardError.UpstreamRequest; // a head larger than the buffer
            }

            int read;
            try
            {
                read = await upstream.Socket.ReceiveAsync(upstream.Buffer.AsMemory(upstream.End), SocketFlags.None, token);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return ForwardError.UpstreamRequest;
            }

            if (read == 0)
            {
                return ForwardError.UpstreamRequest;
            }

            upstream.End += read;
        }
    }

    /// <summary>(4) Relays the response head and body. Returns the outcome and whether the upstream connection can be reused.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<((ForwardError Error, int Status, bool KeepAlive) Result, bool Reusable)> RelayResponseAsync(
        UpstreamConnection upstream, CompiledRoute route, CancellationToken token)
    {
        var head = upstream.Head;
        var keepAlive = !_head.Close && Volatile.Read(ref _state) == States.Busy && !_listener.Stopping && _bodyCopy is not { IsCompleted: false };
        var hasBody = head.HasBody(_head.IsHead);
        var untilClose = hasBody && !head.Chunked && head.ContentLength < 0;
        WriteResponseHead(head, upstream.Buffer.AsSpan(upstream.Start, head.Length), route, chunked: head.Chunked || untilClose, keepAlive);
        upstream.Start += head.Length;
        var reusable = !head.Close && !untilClose;
        var ok = (ForwardError.None, head.Status, keepAlive);
        try
        {
            if (!hasBody)
            {
                CountCompleted();
                await SendAllAsync(_socket, _out.Written, CancellationToken.None);
                return (ok, reusable && upstream.Start == upstream.End);
            }

            var bodyError = head.Chunked ? await RelayChunkedAsync(upstream, token)
                : untilClose ? await RelayUntilCloseAsync(upstream, token)
                : await RelayLengthAsync(upstream, head.ContentLength, token);
            if (bodyError != ForwardError.None)
            {
                ProxyLog.ForwardFailed(_services.ForwardLog, upstream.Socket.RemoteEndPoint?.ToString() ?? string.Empty, bodyError, null);
                return ((bodyError, head.Status, false), false);
            }

            return (ok, reusable && upstream.Start == upstream.End);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return ((ForwardError.ResponseBodyClient, head.Status, false), false);
        }
    }

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

            await SendAllAsync(_socket, _out.Written, CancellationToken.None);
        }
        else
        {
            await SendAllAsync(_socket, _out.Written, CancellationToken.None);
            await SendAllAsync(_socket, upstream.Buffer.AsMemory(upstream.Start, buffered), CancellationToken.None);
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
            await SendAllAsync(_socket, _out.Written, CancellationToken.None);
            return ForwardError.ResponseBodyUpstream;
        }

        _out.Append(upstream.Buffer.AsSpan(upstream.Start, used));
        upstream.Start += used;
        if (scanner.IsDone)
        {
            CountCompleted();
        }

        await SendAllAsync(_socket, _out.Written, CancellationToken.None);
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

                await SendAllAsync(_socket, buffer.AsMemory(0, used), CancellationToken.None);
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

        await SendAllAsync(_socket, _out.Written, CancellationToken.None);
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
                        await SendAllAsync(_socket, _out.Written, CancellationToken.None);
                        return ForwardError.None;
                    }

                    AppendChunk(buffer.AsSpan(0, read));
                    await SendAllAsync(_socket, _out.Written, CancellationToken.None);
                    continue;
                }

                remaining -= read;
                if (remaining == 0)
                {
                    CountCompleted();
                }

                await SendAllAsync(_socket, buffer.AsMemory(0, read), CancellationToken.None);
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
            return await upstream.Socket.ReceiveAsync(buffer.AsMemory(0, count), SocketFlags.None, token);
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

    /// <summary>(3) The upstream request head, built from the client's: see <see cref="RequestMessageFactory"/> for the Kestrel path's rules, which this follows.</summary>
    private void WriteUpstreamHead(CompiledRoute route, CompiledMatch? matched, string host, string path)
    {
        var buffer = _in.AsSpan(0, _head.Length);
        _out.Clear();
        _out.Append(buffer[.._head.MethodLength]);
        _out.Append(" "u8);
        if (route.RewriteUriPrefix is null)
        {
            _out.Append(_head.Target(buffer));
        }
        else
        {
            _out.Append(new PathString(route.RewritePath(path, matched)).ToUriComponent());
            _out.Append(_head.Query(buffer));
        }

        _out.Append(" HTTP/1.1\r\n"u8);
        var upstreamHost = route.RewriteAuthority ?? host;
        if (upstreamHost.Length > 0)
        {
            _out.AppendHeader("Host", upstreamHost);
        }

        var operations = route.RequestHeaders;
        Span<bool> merged = stackalloc bool[operations?.Add.Length ?? 0];
        var hasForwardedFor = false;
        var cookieWritten = false;
        var namesHeaders = _head.Fields.IndexOf(FieldKind.Connection) >= 0; // rare: checked once, not per field
        bool hasProto = false, hasForwardedHost = false, hasRequestId = false, acceptsTrailers = false;
        var fields = _head.Fields.AsSpan();
        foreach (var field in fields)
        {
            var name = field.Name(buffer);
            switch (field.Kind)
            {
                case FieldKind.XForwardedFor:
                    hasForwardedFor = true;
                    continue;
                case FieldKind.Te:
                    acceptsTrailers |= HeadSyntax.ListContains(field.Value(buffer), "trailers"u8);
                    continue;
                case FieldKind.Host:
                    continue;
                case FieldKind.XForwardedProto:
                    hasProto = true;
                    break;
                case FieldKind.XForwardedHost:
                    hasForwardedHost = true;
                    break;
                case FieldKind.XRequestId:
                    hasRequestId = true;
                    break;
                case FieldKind.ContentLength:
                    // The framing of the body that follows: never dropped (the parser hands off a
                    // Connection that names it; a route operation must not cut it either).
                    _out.Append(buffer.Slice(field.LineStart, field.ValueStart + field.ValueLength - field.LineStart));
                    _out.AppendCrLf();
                    continue;
            }

            if (field.IsHopByHop || (operations is not null && Replaced(operations, name)) || (namesHeaders && _head.Fields.IsNamedByConnection(buffer, name)))
            {
                continue;
            }

            if (field.Kind == FieldKind.Cookie)
            {
                // Several Cookie fields go upstream as one, joined with "; " (RFC 6265 §5.4), as on the Kestrel path.
                if (!cookieWritten)
                {
                    AppendCookies(buffer);
                    cookieWritten = true;
                }

                continue;
            }

            if (operations is not null && AddsTo(operations, name, merged, out var first))
            {
                // The Kestrel path's upstream request carries a header and its added values on one line ("first, second").
                if (first)
                {
                    AppendMerged(operations, name, buffer, merged);
                }

                continue;
            }

            _out.Append(buffer.Slice(field.LineStart, field.ValueStart + field.ValueLength - field.LineStart));
            _out.AppendCrLf();
        }

        if (acceptsTrailers)
        {
            _out.Append("TE: trailers\r\n"u8);
        }

        if (_head.Chunked)
        {
            _out.Append("Transfer-Encoding: chunked\r\n"u8); // hop-by-hop, but the body is relayed as framed
        }

        if (_clientIp.Length > 0)
        {
            _out.Append("X-Forwarded-For: "u8);
            if (hasForwardedFor)
            {
                var first = true;
                foreach (var field in fields)
                {
                    if (field.Kind == FieldKind.XForwardedFor)
                    {
                        if (!first)
                        {
                            _out.Append(","u8);
                        }

                        _out.Append(field.Value(buffer));
                        first = false;
                    }
                }

                _out.Append(", "u8);
            }

            _out.Append(_clientIp);
            _out.AppendCrLf();
        }

        if (!hasProto)
        {
            _out.Append("X-Forwarded-Proto: http\r\n"u8);
        }

        if (!hasForwardedHost && host.Length > 0)
        {
            _out.AppendHeader("X-Forwarded-Host", host);
        }

        if (!hasRequestId)
        {
            _out.AppendHeader("X-Request-Id", _services.Options.RequestIdGenerator());
        }

        if (operations is not null)
        {
            AppendOperations(operations, merged);
        }

        _out.AppendCrLf();
    }

    private void AppendCookies(ReadOnlySpan<byte> buffer)
    {
        _out.Append("Cookie: "u8);
        var separator = false;
        foreach (var field in _head.Fields.AsSpan())
        {
            if (field.Kind == FieldKind.Cookie)
            {
                if (separator)
                {
                    _out.Append("; "u8);
                }

                _out.Append(field.Value(buffer));
                separator = true;
            }
        }

        _out.AppendCrLf();
    }

    /// <summary>Whether an add operation names this field; <paramref name="first"/> when no field of the name was written yet.</summary>
    private static bool AddsTo(HeaderOperations operations, ReadOnlySpan<byte> name, Span<bool> merged, out bool first)
    {
        for (var i = 0; i < operations.Add.Length; i++)
        {
            if (HeaderFields.NameEquals(name, operations.Add[i].Key))
            {
                first = !merged[i];
                return true;
            }
        }

        first = false;
        return false;
    }

    /// <summary>One line: every client field of the name, then every value added to it.</summary>
    private void AppendMerged(HeaderOperations operations, ReadOnlySpan<byte> name, ReadOnlySpan<byte> buffer, Span<bool> merged)
    {
        _out.Append(name);
        _out.Append(": "u8);
        var separator = false;
        foreach (var field in _head.Fields.AsSpan())
        {
            if (field.Name(buffer).Length == name.Length && System.Text.Ascii.EqualsIgnoreCase(field.Name(buffer), name))
            {
                AppendListItem(field.Value(buffer), ref separator);
            }
        }

        for (var i = 0; i < operations.Add.Length; i++)
        {
            if (HeaderFields.NameEquals(name, operations.Add[i].Key))
            {
                merged[i] = true;
                _out.Append(separator ? ", " : string.Empty);
                _out.Append(operations.Add[i].Value);
                separator = true;
            }
        }

        _out.AppendCrLf();
    }

    private void AppendListItem(ReadOnlySpan<byte> value, ref bool separator)
    {
        if (separator)
        {
            _out.Append(", "u8);
        }

        _out.Append(value);
        separator = true;
    }

    /// <summary>(4) The client's response head: the upstream's fields minus hop-by-hop ones, with the route's operations.</summary>
    private void WriteResponseHead(ResponseHead head, ReadOnlySpan<byte> buffer, CompiledRoute route, bool chunked, bool keepAlive)
    {
        _out.Clear();
        _out.Append(ResponseDate.StatusLine(head.Status));
        var operations = route.ResponseHeaders;
        var hasDate = false;
        var namesHeaders = head.Fields.IndexOf(FieldKind.Connection) >= 0;
        foreach (var field in head.Fields.AsSpan())
        {
            var name = field.Name(buffer);
            // A Content-Length that frames the relayed body stays whatever Connection or the route's operations say.
            var framing = field.Kind == FieldKind.ContentLength && !chunked;
            if (field.IsHopByHop || (field.Kind == FieldKind.ContentLength && chunked)
                || (!framing && ((namesHeaders && head.Fields.IsNamedByConnection(buffer, name)) || (operations is not null && Replaced(operations, name)))))
            {
                continue;
            }

            hasDate |= field.Kind == FieldKind.Date;
            _out.Append(buffer.Slice(field.LineStart, field.ValueStart + field.ValueLength - field.LineStart));
            _out.AppendCrLf();
        }

        if (operations is not null)
        {
            AppendOperations(operations, []);
        }

        if (!hasDate)
        {
            _out.Append(_services.Date.HeaderLine(_services.Time.GetUtcNow()));
        }

        if (chunked)
        {
            _out.Append("Transfer-Encoding: chunked\r\n"u8);
        }

        if (!keepAlive)
        {
            _out.Append("Connection: close\r\n"u8);
        }

        _out.AppendCrLf();
    }

    /// <summary>Whether the route's header operations remove or set (and so replace) this field.</summary>
    private static bool Replaced(HeaderOperations operations, ReadOnlySpan<byte> name)
    {
        foreach (var remove in operations.Remove)
        {
            if (HeaderFields.NameEquals(name, remove))
            {
                return true;
            }
        }

        foreach (var (set, _) in operations.Set)
        {
            if (HeaderFields.NameEquals(name, set))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Set values, then added values not already merged into a field (<paramref name="merged"/>, empty for responses).</summary>
    private void AppendOperations(HeaderOperations operations, ReadOnlySpan<bool> merged)
    {
        foreach (var (name, value) in operations.Set)
        {
            _out.AppendHeader(name, value);
        }

        for (var i = 0; i < operations.Add.Length; i++)
        {
            if (merged.IsEmpty || !merged[i])
            {
                _out.AppendHeader(operations.Add[i].Key, operations.Add[i].Value);
            }
        }
    }

    /// <summary>(5) An error answered before anything was sent; a client that left gets nothing.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(ForwardError Error, int Status, bool KeepAlive)> FailAsync(EndpointState endpoint, ForwardError error, Exception? exception)
    {
        if (_clientGone)
        {
            return (ForwardError.RequestCanceled, 0, false);
        }

        ProxyLog.ForwardFailed(_services.ForwardLog, endpoint.Origin, error, exception);
        if (error == ForwardError.RequestBodyClient)
        {
            return (error, 0, false);
        }

        var (status, keepAlive) = await AnswerErrorAsync(error);
        return (error, status, keepAlive);
    }

    /// <summary>
    /// Writes the error response of <paramref name="error"/> (as <see cref="ForwardErrorResponses"/> does) and consumes the
    /// request; the connection goes on only if the request's body is all in hand.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(int Status, bool KeepAlive)> AnswerErrorAsync(ForwardError error)
    {
        var keepAlive = _bodyBuffered && _bodyCopy is null && !_head.Close && Volatile.Read(ref _state) == States.Busy && !_listener.Stopping;
        if (_bodyBuffered)
        {
            ConsumeRequest();
        }

        var (status, body) = ForwardErrorResponses.Describe(error);
        _out.Clear();
        _out.Append(ResponseDate.StatusLine(status));
        _out.Append("Content-Type: text/plain\r\nContent-Length: "u8);
        _out.Append(body.Length);
        _out.AppendCrLf();
        _out.Append(_services.Date.HeaderLine(_services.Time.GetUtcNow()));
        if (!keepAlive)
        {
            _out.Append("Connection: close\r\n"u8);
        }

        _out.AppendCrLf();
        _out.Append(body);
        CountCompleted();
        await SendAllAsync(_socket, _out.Written, CancellationToken.None);
        return (status, keepAlive);
    }

    /// <summary>Drops a request whose body was all buffered from the input buffer; pipelined bytes after it move to the front.</summary>
    private void ConsumeRequest()
    {
        var used = _head.Length + (int)_bodyInBuffer;
        var rest = _filled - used;
        if (rest > 0)
        {
            _in.AsSpan(used, rest).CopyTo(_in);
        }

        _filled = rest;
    }

    private bool GrowInput()
    {
        if (_in.Length >= MaxHeadSize)
        {
            return false;
        }

        var larger = ArrayPool<byte>.Shared.Rent(_in.Length * 2);
        _in.AsSpan(0, _filled).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_in);
        _in = larger;
        return true;
    }

    private string CachedHost(ReadOnlySpan<byte> bytes)
    {
        if (!Ascii.Equals(bytes, _host))
        {
            _host = Encoding.Latin1.GetString(bytes);
        }

        return _host;
    }

    private string CachedPath(ReadOnlySpan<byte> bytes)
    {
        if (!Ascii.Equals(bytes, _path))
        {
            _path = Encoding.ASCII.GetString(bytes);
        }

        return _path;
    }

    /// <summary>Sends everything; a send the kernel takes at once (the usual case) completes without an async state machine.</summary>
    private static ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken token)
    {
        var send = socket.SendAsync(data, SocketFlags.None, token);
        if (send.IsCompletedSuccessfully)
        {
            var sent = send.Result;
            return sent == data.Length ? default : SendRestAsync(socket, data[sent..], token);
        }

        return AwaitSendAsync(socket, send, data, token);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask AwaitSendAsync(Socket socket, ValueTask<int> send, ReadOnlyMemory<byte> data, CancellationToken token)
    {
        var sent = await send;
        await SendRestAsync(socket, data[sent..], token);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask SendRestAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken token)
    {
        while (!data.IsEmpty)
        {
            var sent = await socket.SendAsync(data, SocketFlags.None, token);
            data = data[sent..];
        }
    }
}
