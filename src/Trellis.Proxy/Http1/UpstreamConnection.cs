using System.Net.Sockets;

namespace Trellis.Proxy.Http1;

/// <summary>
/// One keep-alive HTTP/1.1 connection to an upstream endpoint, owned by one exchange at a time:
/// its socket, its read buffer (with the bytes read but not yet used), and its parsed response head.
/// </summary>
internal sealed class UpstreamConnection : IDisposable
{
    public const int BufferSize = 16 * 1024;

    public UpstreamConnection(Socket socket, long createdAt)
    {
        Socket = socket;
        CreatedAt = createdAt;
    }

    public Socket Socket { get; }

    public byte[] Buffer { get; } = new byte[BufferSize];

    /// <summary>Unused bytes are <c>Buffer[Start..End]</c>.</summary>
    public int Start { get; set; }

    public int End { get; set; }

    public ResponseHead Head { get; } = new();

    public long CreatedAt { get; }

    public long IdleSince { get; set; }

    /// <summary>Whether it has carried an exchange before this one: a failure before any answer then may just be a stale keep-alive.</summary>
    public bool Reused { get; set; }

    public void Dispose() => Socket.Dispose();
}
