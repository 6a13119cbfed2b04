using System.Net.Sockets;
using System.Text;

namespace Trellis.PoolHost;

/// <summary>
/// The agent's line-based connection to this host. The host listens on its socket only once warm,
/// so a successful connect tells the agent the host is ready; it accepts one connection and removes
/// the socket file, so nobody else can reach it. The socket lives in the agent's data directory
/// (mode 0700): who can connect can run code as the agent's user.
/// </summary>
internal sealed class ControlChannel : IDisposable
{
    private readonly Socket socket;
    private readonly StreamReader reader;
    private readonly NetworkStream stream;

    private ControlChannel(Socket socket)
    {
        this.socket = socket;
        stream = new NetworkStream(socket, ownsSocket: false);
        reader = new StreamReader(stream, new UTF8Encoding(false));
    }

    /// <summary>
    /// Listens and accepts the agent's connection; null when none came within a minute (the agent
    /// connects every 10 ms while a host warms up, so it is gone, and so should this host be).
    /// </summary>
    public static ControlChannel? Accept(string path)
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        File.Delete(path);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        if (!listener.Poll(TimeSpan.FromMinutes(1), SelectMode.SelectRead))
        {
            File.Delete(path);
            return null;
        }

        var connection = listener.Accept();
        File.Delete(path);
        return new ControlChannel(connection);
    }

    /// <summary>The next line, or null when the agent closed the connection.</summary>
    public string? ReadLine()
    {
        try
        {
            return reader.ReadLine();
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>False when the agent is gone or gave up waiting (it then kills this host and
    /// starts the instance as a plain process).</summary>
    public bool Reply(string line)
    {
        try
        {
            stream.Write(Encoding.UTF8.GetBytes(line + "\n"));
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        reader.Dispose();
        stream.Dispose();
        socket.Dispose();
    }
}
