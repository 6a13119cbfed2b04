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
            // that is all in hand is then sent once more on a new connection (UpstreamAttempt.MayResend).
            for (var attempt = 0; ; attempt++)
            {
                (upstream, var connectError) = await UpstreamAttempt.OpenAsync(pool, endpoint, attempt);
                if (upstream is null)
                {
                    ClaimClientWrites();
                    return await FailAsync(endpoint, ForwardError.UpstreamConnect, connectError);
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
                    break;
                }

                var resend = UpstreamAttempt.MayResend(upstream, attempt, bodyBuffered, received, token);
                upstream.Dispose();
                upstream = null;
                if (!resend)
                {
                    var error = token.IsCancellationRequested ? ForwardError.UpstreamTimeout : received;
                    ClaimClientWrites();
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
                    _lingerOnClose = !_clientGone; // the rest of the body may still be on its way
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
            if (!DisarmClientWatch())
            {
                reusable = false;
            }

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
                    ClientGone(Volatile.Read(ref _exchange));
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

        ClientGone(exchange);
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
            _socket.Send(ContinueProbe, SocketFlags.None);
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

    private void ClientGone(int exchange)
    {
        if (Volatile.Read(ref _exchange) == exchange && Interlocked.Exchange(ref _upstream, null) is { } upstream)
        {
            _clientGone = true;
            upstream.Dispose();
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
            await SocketSends.AllAsync(upstream.Socket, head.Written, token);
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
                    await SocketSends.AllAsync(upstream.Socket, buffer.AsMemory(0, used), token);
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

    /// <summary>(4) Reads the final response head; a 100 the client asked for (Expect: 100-continue) is relayed to it.</summary>
    private ValueTask<ForwardError> ReadResponseHeadAsync(UpstreamConnection upstream, CancellationToken token) =>
        upstream.ReadResponseHeadAsync(_head.ExpectContinue ? _socket : null, token);
}
