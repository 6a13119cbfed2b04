using System.Net;
using System.Net.Sockets;

namespace Trellis.Testing;

/// <summary>
/// Ports for the servers and processes a test starts. Binding port 0 and closing again is not enough: Linux
/// often hands the same ephemeral port to the next bind(0), so two "free" ports taken one after the other
/// can be equal, and an outgoing connection may take an ephemeral port between the pick and the bind. So
/// ports come from below the kernel's ephemeral range, each at most once per test process (starting at an
/// offset drawn from the process id, so parallel test processes walk different stretches), and each is
/// checked free by a bind on loopback.
/// </summary>
public static class FreePorts
{
    private const int Lowest = 15000;
    private static readonly int Highest = EphemeralLow() - 1;
    private static int _next = Lowest + (Environment.ProcessId * 7919 % (Highest - Lowest));

    public static int Next()
    {
        for (var tries = 0; tries < Highest - Lowest; tries++)
        {
            var port = Lowest + ((Interlocked.Increment(ref _next) - Lowest) % (Highest - Lowest + 1));
            if (IsFree(port))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"no free port between {Lowest} and {Highest}");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The first port of the kernel's ephemeral range (32768 when it cannot be read).</summary>
    private static int EphemeralLow()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return 32768;
        }
    }
}
