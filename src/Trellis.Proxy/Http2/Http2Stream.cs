using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Trellis.Proxy.Http1;
using Trellis.Proxy.Http2.Hpack;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Http2;

/// <summary>
/// One request stream of an <see cref="Http2Connection"/>. Its header block is decoded straight into
/// an HTTP/1.1 request head (<c>GET /path HTTP/1.1</c>, <c>host</c> from <c>:authority</c>, the
/// fields as sent), checked against RFC 9113 §8 on the way, and then parsed by the same
/// <see cref="RequestHead"/> as the HTTP/1.1 fast path, so that routing and the upstream head are
/// exactly that path's. This file assembles the request; <c>Http2Stream.Exchange.cs</c> serves it.
/// A stream object serves one stream at a time and is reused by its connection.
/// </summary>
internal sealed partial class Http2Stream : IHpackSink, IRequestHeaderLookup, Pipeline.IExchange
{
    private readonly Http2Connection _connection;
    private readonly HeadBuilder _head = new(2048);
    private readonly HeadBuilder _pseudo = new(512);
    private readonly RequestHead _request = new();

    // Pseudo-header values in _pseudo until the request line is written: (start, length), length -1 when absent.
    private (int Start, int Length) _method, _scheme, _authority, _path;
    private bool _lineWritten;
    private bool _regularSeen;
    private bool _hostSeen;
    private bool _expectContinue;
    private long _declaredLength;
    private Problem _problem;

    // The request body, as DATA frames bring it (null for a request that ended with its headers).
    private readonly Pipe _body = new(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, readerScheduler: PipeScheduler.ThreadPool, useSynchronizationContext: false));
    private bool _hasBody;
    private long _received;
    private int _receiveWindow;
    private int _unackedBody;

    // Body bytes in the pipe not yet sent upstream: they still hold the connection's window, which
    // gets them back when the stream retires if the exchange never reads them (an early answer).
    private int _bodyUnsent;
    private volatile bool _bodyAbandoned;
    private bool _writerCompleted;
    private bool _readerCompleted;
    private bool _pipeUsed;

    private volatile bool _reset;
    private TaskCompletionSource? _windowOpened;

    public Http2Stream(Http2Connection connection)
    {
        _connection = connection;
        Trailers = new TrailerSink(this);
    }

    /// <summary>What the assembled request needs instead of being served.</summary>
    private enum Problem : byte
    {
        None,
        Malformed, // RST_STREAM PROTOCOL_ERROR (RFC 9113 §8.1.1)
        TooLarge, // 431
        Unsupported, // outside what RequestHead accepts: refused, for Kestrel to serve
        UnknownExpectation, // 417
        Connect, // 501: CONNECT is not proxied here
    }

    public int Id { get; private set; }

    /// <summary>The client's window for this stream's response (under the connection's output lock).</summary>
    public int SendWindow { get; set; }

    /// <summary>END_STREAM has been received: no more DATA may come (read loop only).</summary>
    public bool RequestEnded { get; private set; }

    public bool IsReset => _reset;

    public TrailerSink Trailers { get; }

    /// <summary>Readies the stream object for stream <paramref name="id"/> (read loop, before its header block is decoded).</summary>
    public void Open(int id, int sendWindow, bool endStream)
    {
        Id = id;
        SendWindow = sendWindow;
        RequestEnded = endStream;
        _hasBody = !endStream;
        _head.Clear();
        _pseudo.Clear();
        _method = _scheme = _authority = _path = (0, -1);
        _lineWritten = _regularSeen = _hostSeen = _expectContinue = false;
        _declaredLength = -1;
        _problem = Problem.None;
        _received = 0;
        _receiveWindow = Http2Connection.StreamWindow;
        _unackedBody = 0;
        _bodyUnsent = 0;
        _bodyAbandoned = false;
        _reset = false;
        _windowOpened = null;
        _upstream = null;
        _trailerLines.Clear();
        Trailers.Clear();
        _upstreamChunked = false;
        _bodyProgress = BodyProgress.Unread;
        _heldBody = default;
        _headersPending = false;
        _uncounted = false;
        _writerCompleted = _readerCompleted = !_hasBody;
        if (_hasBody)
        {
            if (_pipeUsed)
            {
                _body.Reset(); // both sides were completed when the stream before this one retired
            }

            _pipeUsed = true;
        }
    }

    public void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (_problem != Problem.None)
        {
            return;
        }

        if (!FieldSyntax.IsValidValue(value))
        {
            _problem = Problem.Malformed;
            return;
        }

        if (name.Length > 0 && name[0] == (byte)':')
        {
            OnPseudoField(name, value);
            return;
        }

        if (!FieldSyntax.IsValidName(name) || FieldSyntax.IsConnectionSpecific(name))
        {
            _problem = Problem.Malformed;
            return;
        }

        if (!_regularSeen)
        {
            _regularSeen = true;
            WriteRequestLine();
            if (_problem != Problem.None)
            {
                return;
            }
        }

        if (name.SequenceEqual("host"u8))
        {
            if (_authority.Length >= 0)
            {
                return; // :authority wins (RFC 9113 §8.3.1)
            }

            _hostSeen = true;
        }
        else if (name.SequenceEqual("te"u8))
        {
            if (!Ascii.EqualsIgnoreCase(value, "trailers"u8))
            {
                _problem = Problem.Malformed;
                return;
            }
        }
        else if (name.SequenceEqual("expect"u8))
        {
            if (!Ascii.EqualsIgnoreCase(value, "100-continue"u8))
            {
                _problem = Problem.UnknownExpectation;
                return;
            }

            _expectContinue = true; // answered here when the body is wanted, as Kestrel does; not sent upstream
            return;
        }
        else if (name.SequenceEqual("content-length"u8))
        {
            if (_declaredLength >= 0 || !HeadSyntax.TryParseLength(value, out _declaredLength))
            {
                _problem = Problem.Malformed;
                return;
            }
        }

        _head.AppendHeader(name, value);
    }

    private void OnPseudoField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        ref var slot = ref _method;
        if (name.SequenceEqual(":method"u8))
        {
            slot = ref _method;
        }
        else if (name.SequenceEqual(":path"u8))
        {
            slot = ref _path;
        }
        else if (name.SequenceEqual(":authority"u8))
        {
            slot = ref _authority;
        }
        else if (name.SequenceEqual(":scheme"u8))
        {
            slot = ref _scheme;
        }
        else
        {
            _problem = Problem.Malformed; // unknown (or response) pseudo-header
            return;
        }

        if (_regularSeen || slot.Length >= 0)
        {
            _problem = Problem.Malformed; // after a regular field, or twice
            return;
        }

        slot = (_pseudo.Length, value.Length);
        _pseudo.Append(value);
    }

    /// <summary>The request line, and Host from :authority, once the pseudo-header fields are all in.</summary>
    private void WriteRequestLine()
    {
        _lineWritten = true;
        var pseudo = _pseudo.Buffer.AsSpan();
        if (_method.Length > 0 && pseudo.Slice(_method.Start, _method.Length).SequenceEqual("CONNECT"u8))
        {
            _problem = Problem.Connect;
            return;
        }

        if (_method.Length <= 0 || _scheme.Length <= 0 || _path.Length <= 0)
        {
            _problem = Problem.Malformed; // RFC 9113 §8.3.1: all three, :path not empty
            return;
        }

        _head.Append(pseudo.Slice(_method.Start, _method.Length));
        _head.Append(" "u8);
        _head.Append(pseudo.Slice(_path.Start, _path.Length));
        _head.Append(" HTTP/1.1\r\n"u8);
        if (_authority.Length >= 0)
        {
            _head.AppendHeader("host"u8, pseudo.Slice(_authority.Start, _authority.Length));
        }
    }

    /// <summary>
    /// Ends the head: the body's framing as HTTP/1.1 states it (a declared length, else chunked; no
    /// body: <c>content-length: 0</c> where the method usually has one, as the Kestrel path sends),
    /// then parses it. False when the request is not to be served as it stands (see <see cref="_problem"/>).
    /// </summary>
    private bool FinishHead(bool tooLarge)
    {
        if (tooLarge)
        {
            _problem = Problem.TooLarge;
        }

        if (_problem == Problem.None && !_lineWritten)
        {
            WriteRequestLine();
        }

        if (_problem != Problem.None)
        {
            return false;
        }

        if (_declaredLength > 0 && !_hasBody)
        {
            _problem = Problem.Malformed; // a declared length the stream does not carry (RFC 9113 §8.1.1)
            return false;
        }

        if (_hasBody && _declaredLength < 0)
        {
            _head.Append("transfer-encoding: chunked\r\n"u8);
            _upstreamChunked = true;
        }
        else if (!_hasBody && _declaredLength < 0 && UsuallyHasBody())
        {
            _head.Append("content-length: 0\r\n"u8);
        }

        _head.AppendCrLf();
        if (_request.Parse(_head.Written.Span) != HeadParse.Complete)
        {
            _problem = _authority.Length < 0 && !_hostSeen ? Problem.Malformed : Problem.Unsupported;
            return false;
        }

        return true;
    }

    private bool UsuallyHasBody()
    {
        var method = _pseudo.Buffer.AsSpan(_method.Start, _method.Length);
        return !(method.SequenceEqual("GET"u8) || method.SequenceEqual("HEAD"u8) || method.SequenceEqual("OPTIONS"u8) || method.SequenceEqual("DELETE"u8));
    }

    public bool TryGetHeader(string name, out string value) => _request.Fields.TryGetJoined(_head.Written.Span, name, out value);

    public int CopyHeader(string name, Span<char> destination) => _request.Fields.CopyFirst(_head.Written.Span, name, destination);

    /// <summary>
    /// A DATA frame's data (read loop, under the connection's stream lock). <paramref name="padding"/>
    /// counts against the window too. Breaking flow control or the declared length resets the stream.
    /// </summary>
    public void OnData(ReadOnlySpan<byte> data, int padding, bool endStream)
    {
        // Atomic: the exchange opens the window (BodyConsumed) on its own thread, without the stream lock.
        var window = Interlocked.Add(ref _receiveWindow, -(data.Length + padding));
        _received += data.Length;
        if (window < 0 || (_declaredLength >= 0 && (_received > _declaredLength || (endStream && _received != _declaredLength))))
        {
            _connection.Consumed(data.Length);
            Fail(window < 0 ? Http2Error.FlowControlError : Http2Error.ProtocolError);
            return;
        }

        RequestEnded = endStream;
        if (_bodyAbandoned)
        {
            _connection.Consumed(data.Length); // the exchange is over: nobody reads the body
            return;
        }

        if (!data.IsEmpty)
        {
            _body.Writer.Write(data);
            Interlocked.Add(ref _bodyUnsent, data.Length);
        }

        if (endStream)
        {
            CompleteBody(null); // publishes the data with the end: a body in one frame is whole at its first read (CopyBodyAsync)
            return;
        }

        if (!data.IsEmpty)
        {
            // Never waits: the pipe has no pause threshold (the stream's window bounds what it holds).
            var flushed = _body.Writer.FlushAsync();
            if (!flushed.IsCompleted)
            {
                throw new InvalidOperationException("the request body pipe waited");
            }

            flushed.GetAwaiter().GetResult();
        }
    }

    /// <summary>Ends the body pipe's writing side, once (under the connection's stream lock, as every write to it).</summary>
    private void CompleteBody(Exception? error)
    {
        if (!_writerCompleted)
        {
            _writerCompleted = true;
            _body.Writer.Complete(error);
        }
    }

    /// <summary>A trailing header block (read loop, under the stream lock): it must end the stream; its fields follow a chunked body upstream.</summary>
    public void OnTrailers(bool endStream)
    {
        if (!endStream || Trailers.Malformed)
        {
            Fail(Http2Error.ProtocolError);
            return;
        }

        if (_declaredLength >= 0 && _received != _declaredLength)
        {
            Fail(Http2Error.ProtocolError);
            return;
        }

        RequestEnded = true;
        CompleteBody(null);
    }

    /// <summary>The client reset the stream, or the connection ended: the exchange stops where it is (under the stream lock). False when it already had.</summary>
    public bool OnReset()
    {
        if (_reset)
        {
            return false;
        }

        _reset = true;
        RequestEnded = true;
        CompleteBody(new OperationCanceledException("stream reset"));

        Interlocked.Exchange(ref _upstream, null)?.Dispose(); // taken, so the exchange will not pool it
        WindowMayHaveOpened();
        CancelWaits();
        return true;
    }

    /// <summary>
    /// A stream error (RFC 9113 §5.4.2): RST_STREAM with the code, and the exchange stops. The stream
    /// is marked reset first: the writers check that under the output lock, so none of its frames
    /// can follow the RST_STREAM.
    /// </summary>
    public void Fail(Http2Error error)
    {
        if (_connection.Reset(this))
        {
            _connection.WriteRstStream(Id, error);
        }
    }

    /// <summary>Called under the output lock when a DATA write found no window: the next window update wakes the stream.</summary>
    public void WaitForWindow()
    {
        _windowOpened ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Completes when a window may have opened (or the stream was reset); the writer then tries again.</summary>
    public Task WindowOpened()
    {
        var opened = Volatile.Read(ref _windowOpened);
        if (opened is null)
        {
            return Task.CompletedTask;
        }

        // OnReset wakes waiters without the output lock: between WaitForWindow setting the task and
        // here, it may have found none to wake. Either it saw the task, or this sees the reset.
        Interlocked.MemoryBarrier();
        return _reset ? Task.CompletedTask : opened.Task;
    }

    public void WindowMayHaveOpened() => Interlocked.Exchange(ref _windowOpened, null)?.TrySetResult();

    /// <summary>Collects a request's trailer fields as HTTP/1.1 trailer lines, checked as header fields are.</summary>
    internal sealed class TrailerSink(Http2Stream stream) : IHpackSink
    {
        public bool Malformed { get; private set; }

        public void Clear() => Malformed = false;

        public void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
        {
            if (name.IsEmpty || name[0] == (byte)':' || !FieldSyntax.IsValidName(name) || FieldSyntax.IsConnectionSpecific(name) || !FieldSyntax.IsValidValue(value))
            {
                Malformed = true;
                return;
            }

            stream._trailerLines.AppendHeader(name, value);
        }
    }
}
