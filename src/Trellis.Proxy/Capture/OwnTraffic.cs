using System.Net.Sockets;

namespace Trellis.Proxy.Capture;

/// <summary>
/// The mark on every connection this process opens itself, so that the capture rules of its network namespace let them
/// through instead of sending them back to the capture listener (Istio does the same with the proxy's uid 1337; here
/// the node proxy shares the agent's process, and the workloads the agent starts share its uid, so the mark is what
/// tells them apart). A property of the process, set once by <c>trellis agent --capture</c> before anything connects;
/// 0 (the default) marks nothing.
/// </summary>
public static class OwnTraffic
{
    /// <summary>Istio's choice of number (its proxy uid and the mark its ambient rules use).</summary>
    public const int DefaultMark = 0x539;

    // SOL_SOCKET and SO_MARK of Linux (asm-generic/socket.h); setting it needs CAP_NET_ADMIN in the namespace.
    private const int SolSocket = 1;
    private const int SoMark = 36;

    private static int _mark;

    public static int Mark => Volatile.Read(ref _mark);

    /// <summary>Marks this process's connections from now on; throws when the kernel refuses (no CAP_NET_ADMIN, not Linux).</summary>
    public static void Enable(int mark)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(mark);
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.SetRawSocketOption(SolSocket, SoMark, BitConverter.GetBytes(mark)); // fails here rather than on the first connection
        }

        Volatile.Write(ref _mark, mark);
    }

    /// <summary>Marks a socket about to connect (nothing when marking is off).</summary>
    public static void Apply(Socket socket)
    {
        var mark = Mark;
        if (mark != 0)
        {
            socket.SetRawSocketOption(SolSocket, SoMark, BitConverter.GetBytes(mark));
        }
    }

    /// <summary>
    /// Makes an HTTP handler's connections marked ones: when marking is on, it connects through a marked socket (the
    /// handler's own connect does what this does otherwise: every address of the name in turn, Nagle off).
    /// </summary>
    public static SocketsHttpHandler Apply(SocketsHttpHandler handler)
    {
        if (Mark != 0)
        {
            handler.ConnectCallback = ConnectAsync;
        }

        return handler;
    }

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken token)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            Apply(socket);
            await socket.ConnectAsync(context.DnsEndPoint, token);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
