using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Http2;
using Trellis.Proxy.Listeners;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Pipeline;
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
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Its one disposable, the client-gone source, holds no timer and may still be cancelled by the sweep; it is left to the collector.")]
internal sealed partial class Http1Connection : IFastConnection, IRequestHeaderLookup, IExchange
{
    private const int InitialBufferSize = 8 * 1024;
    private const int MaxHeadSize = 32 * 1024;
    private const int LargeCopyBufferSize = 64 * 1024;

    /// <summary>An exchange running longer than this starts watching for the client going away (checked by the listener's sweep).</summary>
    private static readonly TimeSpan ClientWatchDelay = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// A connection waiting this long for (the rest of) a request head is closed: Kestrel's keep-alive
    /// timeout. Kestrel also bounds a started head by 30 s; here the one limit covers both.
    /// </summary>
    private static readonly TimeSpan KeepAliveTimeout = TimeSpan.FromSeconds(130);

    private readonly Socket _socket; // below the byte stream only: addresses, liveness probes, lingering (see IClientTransport.Socket)
    private readonly IClientTransport _transport;
    private readonly Http1Listener _listener;
    private readonly Http1Services _services;
    private readonly RequestHead _head = new();
    private readonly HeadBuilder _out = new(InitialBufferSize);
    private readonly string _clientIp;
    private readonly int _localPort;
    private byte[] _in = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
    private int _filled;
    private readonly RoutingStrings _routing = new();
    private int _state;
    private bool _served; // a request of this connection was served (an h2c preface can only come first)

    // The request body: how much of it is in the input buffer, whether all of it is, how a chunked
    // one is framed so far, and the copy of the rest while the exchange goes on.
    private long _bodyInBuffer;
    private bool _bodyBuffered;
    private ChunkedScanner _bodyFraming;
    private Task<ForwardError>? _bodyCopy;

    // The request being served: as routing reads it, when it started, whether its completion is yet to be
    // counted, and whether the connection goes on after it.
    private RouteRequest _request;
    private long _started;
    private bool _uncounted;
    private bool _keepAlive;

    // What the listener's sweep looks at (see Sweep): the keep-alive timeout while waiting for a head,
    // and noticing a client that leaves while its exchange waits on the upstream (see WatchClientAsync).
    private volatile bool _waitingForHead = true;
    private volatile bool _watchable;
    private long _phaseStarted;
    private UpstreamConnection? _upstream;
    private int _exchange;
    private int _watching;
    private volatile bool _clientGone;

    public Http1Connection(IClientTransport transport, Http1Listener listener)
    {
        _transport = transport;
        var socket = _socket = transport.Socket;
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

        /// <summary>Close, but only after lingering: the client may still be sending the request body (see <see cref="LingerAsync"/>).</summary>
        Linger,
    }

    private static class States
    {
        public const int Idle = 0;
        public const int Busy = 1;
        public const int Closed = 2;
        public const int Lingering = 3;
    }

    public Task Completion { get; private set; } = Task.CompletedTask;

    public void Start() => Completion = RunAsync();

    /// <summary>Listener stop: a connection between requests or lingering closes now; a busy one closes after its response.</summary>
    public void CloseIfIdle()
    {
        if (Interlocked.CompareExchange(ref _state, States.Closed, States.Idle) == States.Idle
            || Interlocked.CompareExchange(ref _state, States.Closed, States.Lingering) == States.Lingering)
        {
            _transport.Dispose();
        }
    }

    /// <summary>Listener stop after the drain timeout: whatever is still running is cut off.</summary>
    public void Abort()
    {
        Volatile.Write(ref _state, States.Closed);
        _transport.Dispose();
        Interlocked.Exchange(ref _upstream, null)?.Dispose();
    }

    public bool TryGetHeader(string name, out string value) => _head.Fields.TryGetJoined(_in.AsSpan(0, _head.Length), name, out value);

    public int CopyHeader(string name, Span<char> destination) => _head.Fields.CopyFirst(_in.AsSpan(0, _head.Length), name, destination);

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

                    var read = await _transport.ReceiveAsync(_in.AsMemory(_filled));
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

                var next = parse == HeadParse.Complete ? await HandleAsync() : parse == HeadParse.Connect ? await TunnelAsync() : Next.Handoff;
                if (next == Next.Handoff && !_served && _listener.DetectsH2c && Http2Connection.StartsWithPreface(_in.AsSpan(0, _filled)))
                {
                    // An h2c client with prior knowledge on a listener that also speaks HTTP/1.1, as
                    // Envoy's codec detects it; Kestrel cannot tell the two apart on one cleartext port.
                    _listener.Adopt(new Http2Connection(_transport, _listener, _in.AsSpan(0, _filled)));
                    handedOff = true;
                    return;
                }

                _served = true;
                if (next == Next.Handoff)
                {
                    handedOff = _listener.Handoff.TryHand(_transport, _in.AsSpan(0, _filled));
                    return;
                }

                if (next == Next.Linger)
                {
                    await LingerAsync();
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
                _transport.Dispose();
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

    /// <summary>
    /// (2) Routes the parsed request and, unless it belongs to Kestrel (<see cref="CompiledRoute.NeedsKestrel"/>, a
    /// serving listener), runs it through the pipeline. Leaves the input buffer at the next request.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Next> HandleAsync()
    {
        var snapshot = _services.Snapshots.Current;
        if (KestrelOnly.Listener(snapshot, _listener.Name))
        {
            return Next.Handoff; // queue-proxy duties (breaker, revision timeouts) live on the Kestrel path
        }

        if (!FrameBody())
        {
            return Next.Handoff; // a malformed chunked body: Kestrel's 400
        }

        var buffer = _in.AsSpan(0, _filled);
        var query = _head.Query(buffer);
        _request = new RouteRequest(
            _head.Method(buffer), _routing.Host(_head.Host(buffer)), _routing.Path(_head.Path(buffer)),
            query.IsEmpty ? null : Encoding.Latin1.GetString(query), this, _localPort);
        var match = RequestPipeline.Route(snapshot, _listener.Name, _request);
        if (match.Route is { NeedsKestrel: true })
        {
            return Next.Handoff;
        }

        // From here on the request is ours.
        var time = _services.Time;
        _started = time.GetTimestamp();
        _waitingForHead = false;
        Volatile.Write(ref _phaseStarted, _started);
        _uncounted = true;
        _keepAlive = false;
        _listener.Stats.Load.RequestStarted(ConcurrencyTracker.ToMicros(time, _started));
        StartTelemetry();
        try
        {
            await _services.Pipeline.RunAsync(this, _listener.Name, match);
        }
        finally
        {
            CountCompleted();
            EndExchange();
        }

        return _keepAlive ? Next.Continue : _lingerOnClose ? Next.Linger : Next.Close;
    }

    /// <summary>
    /// The proxy's own answer (<see cref="LocalReply"/>); the request is consumed, and the connection goes on only if
    /// its body is all in hand. A client that left gets nothing.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask AnswerAsync(LocalReply reply)
    {
        ClaimClientWrites();
        DisarmClientWatch();
        if (_clientGone)
        {
            return;
        }

        var keepAlive = _bodyBuffered && _bodyCopy is null && !_head.Close && Volatile.Read(ref _state) == States.Busy && !_listener.Stopping;
        if (_bodyBuffered)
        {
            ConsumeRequest();
        }

        _out.Clear();
        _out.Append(ResponseDate.StatusLine(reply.Status));
        if (reply.ContentType is not null)
        {
            _out.AppendHeader("Content-Type", reply.ContentType);
        }

        _out.Append("Content-Length: "u8);
        _out.Append(reply.Body.Length);
        _out.AppendCrLf();
        _out.Append(_services.Date.HeaderLine(_services.Time.GetUtcNow()));
        foreach (var (name, value) in reply.Headers ?? [])
        {
            _out.AppendHeader(name, value);
        }

        if (reply.Flags != ResponseFlags.None)
        {
            _out.Append(ResponseFlagNames.HeaderUtf8);
            _out.Append(": "u8);
            _out.Append(reply.Flags.ToUtf8());
            _out.AppendCrLf();
        }

        if (!keepAlive)
        {
            _out.Append("Connection: close\r\n"u8);
        }

        _out.AppendCrLf();
        _out.Append(reply.Body.Span);
        CountCompleted();
        await SendToClientAsync(_out.Written);
        _keepAlive = keepAlive;
        // Answered before the body was all read (none of it copied, or a copy cut short): the client may still be sending.
        _lingerOnClose = !_bodyBuffered && _bodyCopy is not { IsCompletedSuccessfully: true, Result: ForwardError.None };
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

}
