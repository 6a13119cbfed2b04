using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Trellis.Runtime.Activation;

/// <summary>
/// Socket activation, systemd's protocol (sd_listen_fds(3)): the supervisor binds and listens on the
/// instance's port itself and hands the listening socket to the process as file descriptor 3, with
/// <c>LISTEN_FDS=1</c> and <c>LISTEN_PID</c> = the process' pid. The kernel completes connections
/// into the socket's backlog from the moment it listens, before the process has even started, so
/// the instance can take traffic at once: requests wait in the kernel until the app accepts them
/// instead of in the activator until a probe notices the port, and there is no readiness polling
/// delay. Kestrel takes such a socket with <c>KestrelServerOptions.UseSystemd()</c>.
/// <para>
/// .NET creates every descriptor close-on-exec; this one is made inheritable only for the one
/// fork of its own process (<see cref="ChildProcess.Start"/> holds a lock over every start, so no
/// other child can inherit it) and closed in the supervisor right after: the process then holds
/// the only copy, and its exit closes the port, refusing (not stalling) later connections.
/// </para>
/// </summary>
internal sealed partial class ListenSocket : IDisposable
{
    /// <summary>Kestrel's default backlog: connections the kernel queues before the app accepts them.</summary>
    public const int Backlog = 512;

    /// <summary>SD_LISTEN_FDS_START: where the first passed descriptor lives in the process.</summary>
    public const int FirstDescriptor = 3;

    private const int FGetFd = 1;
    private const int FSetFd = 2;
    private const int FdCloexec = 1;

    private readonly Socket socket;

    private ListenSocket(Socket socket) => this.socket = socket;

    /// <summary>The descriptor number in the supervisor (moved to <see cref="FirstDescriptor"/> in the child).</summary>
    public int Descriptor => (int)socket.SafeHandle.DangerousGetHandle();

    /// <summary>Binds and listens on <paramref name="host"/>:<paramref name="port"/>; throws <see cref="SocketException"/> when the port is taken.</summary>
    public static ListenSocket Open(string host, int port)
    {
        var address = IPAddress.Parse(host);
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(Backlog);
            return new ListenSocket(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Whether the next fork passes the socket on. Call only under <see cref="ChildProcess"/>'s start lock.</summary>
    public void SetInheritable(bool inheritable)
    {
        var flags = fcntl(Descriptor, FGetFd, 0);
        if (flags < 0 || fcntl(Descriptor, FSetFd, inheritable ? flags & ~FdCloexec : flags | FdCloexec) < 0)
        {
            throw new SocketException(Marshal.GetLastPInvokeError());
        }
    }

    public void Dispose() => socket.Dispose();

    // fcntl(2) is variadic; with int arguments the fixed signature passes them the same way on Linux.
    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int cmd, int arg);
}
