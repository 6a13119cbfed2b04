using System.Net.Sockets;
using System.Security.Cryptography;

namespace Trellis.Runtime.Activation;

/// <summary>
/// Readiness notification, systemd's protocol (sd_notify(3), <c>Type=notify</c>): the supervisor
/// binds a Unix datagram socket per process start and names it in <c>NOTIFY_SOCKET</c>; a process that
/// speaks the protocol sends <c>READY=1</c> once it serves, and <see cref="Ready"/> completes on that
/// datagram. The probe loop wakes on it at once (<see cref="Instance"/>), so a start that notifies
/// becomes ready when it says so, not at the next probe tick; the probe still runs and decides, and a
/// process that never notifies is found by the probe alone.
/// <para>
/// Abstract namespace (<c>@name</c>): no file to clean up and no 108-byte path limit on deep data
/// directories. The name carries 128 random bits, so another local process cannot guess it and
/// mark an instance ready; and a false READY=1 only makes the probe run early.
/// </para>
/// </summary>
internal sealed class NotifySocket : IDisposable
{
    /// <summary>The variable that names the socket to the process.</summary>
    public const string Variable = "NOTIFY_SOCKET";

    private readonly Socket _socket;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private NotifySocket(Socket socket, string address)
    {
        _socket = socket;
        Address = address;
        _ = ReceiveAsync();
    }

    /// <summary>The value of <see cref="Variable"/>: '@' stands for the abstract namespace's leading NUL.</summary>
    public string Address { get; }

    /// <summary>Completes on the first datagram that says <c>READY=1</c>; never faults, and stays pending when none comes.</summary>
    public Task Ready => _ready.Task;

    /// <summary>Binds a fresh socket; null where Unix datagram sockets in the abstract namespace are not available (not Linux).</summary>
    public static NotifySocket? TryOpen()
    {
        var name = "trellis/notify/" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint("\0" + name));
            return new NotifySocket(socket, "@" + name);
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
    }

    /// <summary>
    /// True when a notification datagram carries the line <c>READY=1</c>. A datagram is
    /// newline-separated assignments (<c>STATUS=…</c>, <c>MAINPID=…</c>, …); only READY=1 counts.
    /// </summary>
    public static bool SaysReady(ReadOnlySpan<byte> datagram)
    {
        foreach (var range in datagram.Split((byte)'\n'))
        {
            if (datagram[range].SequenceEqual("READY=1"u8))
            {
                return true;
            }
        }

        return false;
    }

    public void Dispose() => _socket.Dispose();

    private async Task ReceiveAsync()
    {
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var received = await _socket.ReceiveAsync(buffer, SocketFlags.None);
                if (SaysReady(buffer.AsSpan(0, received)))
                {
                    _ready.TrySetResult();
                    return; // one READY=1 per start is all the supervisor acts on
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Disposed: the process exited or the instance stops.
        }
    }
}
