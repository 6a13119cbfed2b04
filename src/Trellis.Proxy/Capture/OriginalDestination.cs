using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Trellis.Proxy.Capture;

/// <summary>
/// Where a redirected connection was going: netfilter keeps the destination the client asked for when a NAT rule
/// (nftables <c>redirect</c>, iptables <c>REDIRECT</c>) rewrote it, and gives it back with
/// <c>getsockopt(SOL_IP, SO_ORIGINAL_DST)</c> on the accepted socket, as Envoy's <c>original_dst</c> listener filter reads it.
/// </summary>
internal static class OriginalDestination
{
    // SOL_IP and SO_ORIGINAL_DST (linux/netfilter_ipv4.h); the answer is a struct sockaddr_in.
    private const int SolIp = 0;
    private const int SoOriginalDst = 80;
    private const int SockaddrInLength = 16;

    /// <summary>The original IPv4 destination; null when the connection was not redirected (or the option is unknown here).</summary>
    public static IPEndPoint? Of(Socket socket)
    {
        if (socket.AddressFamily != AddressFamily.InterNetwork && !(socket.AddressFamily == AddressFamily.InterNetworkV6 && socket.DualMode))
        {
            return null;
        }

        Span<byte> address = stackalloc byte[SockaddrInLength];
        try
        {
            var length = socket.GetRawSocketOption(SolIp, SoOriginalDst, address);
            return length < 8 ? null : Parse(address);
        }
        catch (SocketException)
        {
            return null; // ENOENT: no NAT entry, the client connected to the listener itself
        }
    }

    /// <summary>A <c>sockaddr_in</c>: family (host order), port and address (network order).</summary>
    internal static IPEndPoint Parse(ReadOnlySpan<byte> sockaddrIn) =>
        new(new IPAddress(sockaddrIn.Slice(4, 4)), BinaryPrimitives.ReadUInt16BigEndian(sockaddrIn.Slice(2, 2)));
}
