using System.Net.Sockets;

namespace Trellis.Proxy.Http1;

/// <summary>
/// Lingering close (nginx's <c>lingering_close</c>, RFC 9112 §9.6): a connection answered before the
/// client's request body was all read must not be closed with that body arriving. Closing a socket
/// with unread input sends a reset, and a reset can destroy the answer (a 413, a 502) in the client's
/// receive buffer before the client reads it; a client still sending also sees its send fail with a
/// reset instead of reading the answer. So the connection half-closes after its last response byte,
/// reads and drops what the client still sends, and closes once the client closes, once it has sent
/// nothing for <see cref="LingerTimeout"/>, or after <see cref="LingerTime"/> in all, whichever is first.
/// The limits are enforced by the listener's sweep (<see cref="Sweep"/>), not a timer per connection,
/// so each is met within a second.
/// </summary>
internal sealed partial class Http1Connection
{
    /// <summary>How long a lingering connection waits for more of the client's bytes: nginx's lingering_timeout.</summary>
    private static readonly TimeSpan LingerTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long a connection lingers at most, however much the client still sends: nginx's lingering_time.</summary>
    private static readonly TimeSpan LingerTime = TimeSpan.FromSeconds(30);

    /// <summary>The connection closes with request body bytes still to come: it lingers (set on close paths only).</summary>
    private bool _lingerOnClose;

    private long _lingerStarted;
    private long _lingerRead; // when the client's last bytes were dropped

    /// <summary>
    /// After the last response byte went out: FIN, then drop the client's bytes until it closes or the
    /// sweep closes the socket (which ends the pending read with an exception, as the client's reset does).
    /// The input buffer takes the dropped bytes, once a body copy still running has ended (it ends at
    /// the client's next bytes, since its upstream connection is closed, or when the socket closes).
    /// </summary>
    private async Task LingerAsync()
    {
        var now = _services.Time.GetTimestamp();
        _lingerStarted = now;
        _lingerRead = now;
        if (Interlocked.CompareExchange(ref _state, States.Lingering, States.Busy) != States.Busy || _listener.Stopping)
        {
            return; // closed by the listener, or it is stopping: no waiting on clients (CloseIfIdle)
        }

        _transport.ShutdownSend();
        if (_bodyCopy is { } copy)
        {
            await copy;
        }

        while (await _socket.ReceiveAsync(_in.AsMemory(), SocketFlags.None) > 0)
        {
            Volatile.Write(ref _lingerRead, _services.Time.GetTimestamp());
        }
    }

    /// <summary>Sweep: whether a lingering connection has waited long enough.</summary>
    private bool LingerOver(long now) =>
        _services.Time.GetElapsedTime(_lingerStarted, now) > LingerTime || _services.Time.GetElapsedTime(Volatile.Read(ref _lingerRead), now) > LingerTimeout;
}
