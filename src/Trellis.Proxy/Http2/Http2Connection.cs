using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Trellis.Proxy.Http1;
using Trellis.Proxy.Http2.Hpack;
using Trellis.Proxy.Listeners;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Http2;

/// <summary>
/// One h2c client connection of a fast-path listener (RFC 9113, prior knowledge): reads frames,
/// keeps the connection's state (settings, flow-control windows, the HPACK table, the streams), and
/// runs each request stream as an <see cref="Http2Stream"/>, which relays it over a pooled HTTP/1.1
/// upstream connection as the HTTP/1.1 fast path does. A connection whose listener needs what only
/// the Kestrel path does (serving duties, redirects, activation, HTTP/2 upstreams: see
/// <see cref="FastPathServes"/>) is handed to Kestrel after the preface, before anything is answered.
/// This file is the connection's life (preface, read loop, streams, drain and end); <c>Http2Connection.Frames.cs</c>
/// handles each frame read, <c>Http2Connection.Output.cs</c> writes frames.
/// </summary>
internal sealed partial class Http2Connection : IFastConnection
{
    /// <summary>The flow-control window each stream's request body gets (SETTINGS_INITIAL_WINDOW_SIZE): what one stream may have buffered here.</summary>
    public const int StreamWindow = 256 * 1024;

    /// <summary>The connection's receive window: what all streams together may have buffered here.</summary>
    private const int ConnectionWindow = 1024 * 1024;

    private const int DefaultWindow = 65535;
    private const int MaxHeaderListSize = 32 * 1024;

    /// <summary>A header block (HEADERS plus CONTINUATIONs) larger than this ends the connection: it must be decoded whole to keep HPACK in step.</summary>
    private const int MaxHeaderBlock = 64 * 1024;

    private const int InputSize = 64 * 1024;

    /// <summary>Streams refused in a row (over the concurrency limit) before the connection is ended as abusive.</summary>
    private const int MaxRefusedInARow = 1000;

    /// <summary>A connection without streams for this long is closed: Kestrel's keep-alive timeout; it bounds a slow preface too.</summary>
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(130);

    /// <summary>How long a gracefully ended connection waits for the client to close its side (see <see cref="FinishOutput"/>).</summary>
    private static readonly TimeSpan LingerTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long output owed to the client may make no progress before the connection is ended (see
    /// <see cref="Stalled"/>): nginx's send_timeout, 60 s between two successive writes, which nginx
    /// applies to HTTP/2 flow-control waits too. A reader that takes a <see cref="SendSlice"/> a
    /// minute (273 B/s; Kestrel's MinResponseDataRate is 240 B/s) is never cut.
    /// </summary>
    internal static readonly TimeSpan StallLimit = TimeSpan.FromSeconds(60);

    private const string StalledReason = "the client took no output for the stall limit: it neither read its socket nor opened a window";

    private static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    /// <summary>Whether the first line of a connection is the h2c preface's (prior knowledge, RFC 9113 §3.3).</summary>
    public static bool StartsWithPreface(ReadOnlySpan<byte> received) => received.StartsWith(Preface[..16]);

    private readonly IClientTransport _transport;
    private readonly Http1Listener _listener;
    private readonly HpackDecoder _decoder = new(4096, MaxHeaderListSize);
    private readonly Dictionary<int, Http2Stream> _streams = [];
    private readonly Stack<Http2Stream> _idleStreams = new();
    private readonly HeadBuilder _headerBlock = new(1024);
    private byte[] _in = ArrayPool<byte>.Shared.Rent(InputSize);
    private int _filled;

    // The header block being assembled across CONTINUATION frames.
    private bool _continuationExpected;
    private int _blockStream;
    private bool _blockEndStream;

    private int _lastStreamId;
    private int _refusedInARow;
    private int _receiveWindow = ConnectionWindow;
    private int _unackedReceived;

    // Graceful close: no new streams; the connection closes once the last stream has ended.
    private volatile bool _draining;
    private long _idleSince;
    private readonly TaskCompletionSource _streamsEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // The stall check's view at the previous sweep (sweep only).
    private int _slicesSeen;
    private int _dataWritesSeen;
    private long? _stuckSince;

    /// <param name="received">Bytes already read from the socket (a preface that an HTTP/1.1 connection recognised), if any.</param>
    public Http2Connection(IClientTransport transport, Http1Listener listener, ReadOnlySpan<byte> received = default)
    {
        _transport = transport;
        var socket = transport.Socket;
        received.CopyTo(_in);
        _filled = received.Length;
        _listener = listener;
        Services = listener.Services;
        ClientIp = (socket.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? string.Empty;
        LocalPort = (socket.LocalEndPoint as IPEndPoint)?.Port ?? 0;
        _idleSince = Services.Time.GetTimestamp();
        _pending = new HeadBuilder(16 * 1024);
        _sending = new HeadBuilder(16 * 1024);
    }

    public Http1Services Services { get; }

    public Http1Listener Listener => _listener;

    public string ClientIp { get; }

    /// <summary>The verified mTLS peer of the connection; null for cleartext.</summary>
    public Security.PeerIdentity? Peer => _transport.Peer;

    public int LocalPort { get; }

    public Task Completion { get; private set; } = Task.CompletedTask;

    public void Start() => Completion = RunAsync();

    public void CloseIfIdle() => BeginDrain();

    public void Abort()
    {
        _draining = true;
        _transport.Dispose();
        AbortStreams();
    }

    public void Sweep(long now)
    {
        var finishedAt = Volatile.Read(ref _finishedAt);
        if (finishedAt != 0 && Services.Time.GetElapsedTime(finishedAt, now) > LingerTimeout)
        {
            _transport.Dispose(); // the client did not close after our FIN: the read loop ends here
            return;
        }

        if (Stalled(now))
        {
            _ = EndStalledAsync();
            return;
        }

        bool idle;
        lock (_streams)
        {
            idle = _streams.Count == 0 && Services.Time.GetElapsedTime(Volatile.Read(ref _idleSince), now) > IdleTimeout;
        }

        if (idle)
        {
            BeginDrain();
        }
    }

    /// <summary>
    /// Whether output owed to the client has made no progress for <see cref="StallLimit"/> (sweep
    /// only): at every sweep since, either a send was in progress and the socket had taken no slice
    /// of it, or a stream waited for a window and no DATA had been written. Answering PINGs is not
    /// progress; one stream's DATA is (the bound is per connection: a client may hold one stream's
    /// window shut while it reads the others).
    /// </summary>
    private bool Stalled(long now)
    {
        bool sending;
        int dataWrites;
        lock (_output)
        {
            sending = _flushing && !_outputClosed;
            dataWrites = _dataWrites;
        }

        var slices = Volatile.Read(ref _slicesSent);
        var stuck = (sending && slices == _slicesSeen) || (dataWrites == _dataWritesSeen && WaitingForWindow());
        (_slicesSeen, _dataWritesSeen) = (slices, dataWrites);
        if (!stuck)
        {
            _stuckSince = null;
            return false;
        }

        _stuckSince ??= now;
        if (Services.Time.GetElapsedTime(_stuckSince.Value, now) < StallLimit)
        {
            return false;
        }

        _stuckSince = null; // the connection is ended once
        return true;
    }

    /// <summary>Whether a stream holds DATA it cannot send for want of a window (it awaits <see cref="Http2Stream.WindowOpened"/>).</summary>
    private bool WaitingForWindow()
    {
        lock (_streams)
        {
            foreach (var stream in _streams.Values)
            {
                if (!stream.WindowOpened().IsCompleted)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// Ends a connection whose client stopped taking its output: it would otherwise keep its streams,
    /// and their upstream connections, until the listener drains. GOAWAY ENHANCE_YOUR_CALM: the client
    /// broke no rule (holding a window shut is allowed, so not FLOW_CONTROL_ERROR, and nothing failed
    /// here, so not INTERNAL_ERROR), it makes us hold load we will not carry. The streams are reset,
    /// which closes their upstream connections (mid-message, they cannot go back to the pool); the
    /// socket closes once the GOAWAY is sent, or after a second (a client that reads nothing never gets it).
    /// </summary>
    private async Task EndStalledAsync()
    {
        ProxyLog.Http2ConnectionError(Services.ForwardLog, _listener.Name, ClientIp, nameof(Http2Error.EnhanceYourCalm), StalledReason);
        _draining = true;
        WriteGoAway(Volatile.Read(ref _lastStreamId), Http2Error.EnhanceYourCalm, StalledReason);
        AbortStreams();
        await FlushedAsync();
        _transport.Dispose(); // ends the read loop, and with it the connection
    }

    /// <summary>Routing's strings, cached across the connection's requests (used on the read loop only, where streams are routed).</summary>
    internal RoutingStrings Routing { get; } = new();

    private async Task RunAsync()
    {
        var handedOff = false;
        Http2ConnectionException? failure = null;
        try
        {
            var preface = await ReadPrefaceAsync();
            if (preface == PrefaceRead.Closed)
            {
                return;
            }

            if (preface == PrefaceRead.NotHttp2 || _listener.KestrelPreferredForHttp2 || KestrelOnly.Connection(Services.Snapshots.Current, _listener.Name))
            {
                // Kestrel answers a client that does not speak h2c, and serves listeners that need it: over h2c
                // on a listener that also speaks HTTP/1.1, where the listener's own Kestrel speaks HTTP/1.1 only.
                handedOff = preface != PrefaceRead.NotHttp2 && _listener.H2c is { } h2c
                    ? await h2c.TryHandAsync(_transport, _in.AsMemory(0, _filled))
                    : _listener.Handoff.TryHand(_transport, _in.AsSpan(0, _filled));
                return;
            }

            WriteServerPreface();
            _filled -= Preface.Length;
            _in.AsSpan(Preface.Length, _filled).CopyTo(_in);
            await ReadFramesAsync();
        }
        catch (Http2ConnectionException ex)
        {
            ProxyLog.Http2ConnectionError(Services.ForwardLog, _listener.Name, ClientIp, ex.Error.ToString(), ex.Message);
            failure = ex;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away or the connection was closed here: nothing more to say.
        }
        catch (Exception ex)
        {
            // A bug here must not take the process down: the connection ends, the others go on.
            ProxyLog.Http2ConnectionFailed(Services.ForwardLog, _listener.Name, ClientIp, ex);
            failure = new Http2ConnectionException(Http2Error.InternalError, "internal error");
        }
        finally
        {
            await EndAsync(failure, handedOff);
        }
    }

    private enum PrefaceRead
    {
        Complete,
        Closed,
        NotHttp2,
    }

    private async ValueTask<PrefaceRead> ReadPrefaceAsync()
    {
        while (_filled < Preface.Length)
        {
            var read = await _transport.ReceiveAsync(_in.AsMemory(_filled));
            if (read == 0)
            {
                return PrefaceRead.Closed;
            }

            _filled += read;
            var seen = Math.Min(_filled, Preface.Length);
            if (!_in.AsSpan(0, seen).SequenceEqual(Preface[..seen]))
            {
                return PrefaceRead.NotHttp2;
            }
        }

        return PrefaceRead.Complete;
    }

    private async Task ReadFramesAsync()
    {
        var first = true;
        while (true)
        {
            var offset = 0;
            while (_filled - offset >= FrameHeader.Size)
            {
                var header = FrameHeader.Read(_in.AsSpan(offset));
                if (header.Length > FrameHeader.MaxPayload)
                {
                    throw new Http2ConnectionException(Http2Error.FrameSizeError, $"a {header.Type} frame of {header.Length} bytes exceeds SETTINGS_MAX_FRAME_SIZE");
                }

                if (_filled - offset < FrameHeader.Size + header.Length)
                {
                    break;
                }

                if (first && header.Type != FrameType.Settings)
                {
                    throw new Http2ConnectionException(Http2Error.ProtocolError, "the client preface must end with a SETTINGS frame");
                }

                first = false;
                OnFrame(header, _in.AsSpan(offset + FrameHeader.Size, header.Length));
                offset += FrameHeader.Size + header.Length;
            }

            if (offset > 0)
            {
                _in.AsSpan(offset, _filled - offset).CopyTo(_in);
                _filled -= offset;
            }

            // A client that does not read what it asks for (PING, SETTINGS, responses) stops being read.
            await WaitForOutputAsync();
            var read = await _transport.ReceiveAsync(_in.AsMemory(_filled));
            if (read == 0)
            {
                return;
            }

            _filled += read;
        }
    }

    /// <summary>Resets a stream under the stream lock, which every read-loop access to a stream holds; false when it already was.</summary>
    internal bool Reset(Http2Stream stream)
    {
        lock (_streams)
        {
            return stream.OnReset();
        }
    }

    /// <summary>Called by a stream when everything it started has ended: it leaves the table (and may serve again).</summary>
    internal void StreamEnded(Http2Stream stream, int id)
    {
        bool last;
        lock (_streams)
        {
            _streams.Remove(id);
            stream.Retire();
            last = _streams.Count == 0;
            if (last)
            {
                Volatile.Write(ref _idleSince, Services.Time.GetTimestamp());
            }

            if (_idleStreams.Count < 16)
            {
                _idleStreams.Push(stream);
            }
            else
            {
                stream.ReturnBuffers();
            }
        }

        if (last && _draining)
        {
            CloseWhenFlushed();
            _streamsEnded.TrySetResult();
        }
    }

    /// <summary>No new streams: GOAWAY names the last one served; the connection closes when the running ones end.</summary>
    internal void BeginDrain()
    {
        bool idle;
        lock (_streams)
        {
            if (_draining)
            {
                return;
            }

            _draining = true;
            idle = _streams.Count == 0;
        }

        WriteGoAway(Volatile.Read(ref _lastStreamId), Http2Error.NoError);
        if (idle)
        {
            CloseWhenFlushed();
        }
    }

    private void AbortStreams()
    {
        lock (_streams)
        {
            foreach (var stream in _streams.Values)
            {
                stream.OnReset();
            }
        }
    }

    /// <summary>After the read loop: a connection error is told with GOAWAY; streams still running are cut off and awaited.</summary>
    private async Task EndAsync(Http2ConnectionException? failure, bool handedOff)
    {
        if (!handedOff)
        {
            if (failure is not null)
            {
                _draining = true;
                WriteGoAway(_lastStreamId, failure.Error, failure.Message);
                await FlushedAsync();
            }

            _transport.Dispose();
        }

        _draining = true;
        AbortStreams();
        bool running;
        lock (_streams)
        {
            running = _streams.Count > 0;
        }

        if (running)
        {
            await _streamsEnded.Task;
        }

        // Every stream has ended, and the read loop that reuses them is over.
        lock (_streams)
        {
            while (_idleStreams.TryPop(out var idle))
            {
                idle.ReturnBuffers();
            }
        }

        _headerBlock.ReturnBuffer();
        ArrayPool<byte>.Shared.Return(_in);
        _in = [];
        _listener.Remove(this);
    }
}
