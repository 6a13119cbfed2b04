using System.Net;
using System.Net.Sockets;

namespace Trellis.Runtime;

/// <summary>
/// Finds free TCP ports by binding port 0 and releasing it. The port could in principle be taken
/// between release and the process binding it; that race is accepted (the process would crash and
/// be restarted), but a port already handed to a live instance is not handed out again.
/// </summary>
internal sealed class PortAllocator(string host)
{
    private readonly IPAddress address = IPAddress.Parse(host);
    private readonly HashSet<int> inUse = [];
    private readonly Lock gate = new();

    public int Allocate()
    {
        lock (gate)
        {
            var port = 0;
            for (var attempt = 0; attempt < 100; attempt++)
            {
                using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(address, 0));
                port = ((IPEndPoint)socket.LocalEndPoint!).Port;
                if (inUse.Add(port))
                {
                    return port;
                }
            }

            return port;
        }
    }

    public void Release(int port)
    {
        lock (gate)
        {
            inUse.Remove(port);
        }
    }
}
