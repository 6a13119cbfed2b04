using System.Net;
using System.Net.Sockets;

namespace Trellis.ControlPlane.GatewayApi;

/// <summary>
/// The loopback addresses Trellis hands to Gateway API Gateways, one per Gateway, as a cloud load balancer gives each
/// Gateway its own IP: several Gateways can then all listen on port 80. A range in 127.0.0.0/8, written in CIDR
/// form (default <c>127.0.100.0/24</c>); the network and broadcast addresses are not handed out.
/// </summary>
public sealed class GatewayAddressPool
{
    public const string Default = "127.0.100.0/24";

    private readonly uint _first;
    private readonly uint _last;

    private GatewayAddressPool(uint first, uint last)
    {
        _first = first;
        _last = last;
    }

    /// <summary>A pool for <paramref name="cidr"/>, or the reason it cannot be one.</summary>
    public static (GatewayAddressPool? Pool, string? Error) Parse(string cidr)
    {
        var slash = cidr.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !IPAddress.TryParse(cidr[..slash], out var ip) || ip.AddressFamily != AddressFamily.InterNetwork
            || !int.TryParse(cidr[(slash + 1)..], System.Globalization.CultureInfo.InvariantCulture, out var bits) || bits is < 8 or > 30)
        {
            return (null, $"\"{cidr}\" is not an IPv4 CIDR range with a prefix of 8 to 30 bits");
        }

        if (!IPAddress.IsLoopback(ip))
        {
            return (null, $"\"{cidr}\" is not in the loopback range 127.0.0.0/8");
        }

        var value = ToUInt(ip);
        var mask = uint.MaxValue << (32 - bits);
        var network = value & mask;
        return (new GatewayAddressPool(network + 1, (network | ~mask) - 1), null);
    }

    /// <summary>The lowest address of the range that is not in <paramref name="taken"/>; null when all are.</summary>
    public string? Next(IReadOnlySet<string> taken)
    {
        for (var a = _first; a <= _last; a++)
        {
            var text = FromUInt(a).ToString();
            if (!taken.Contains(text))
            {
                return text;
            }
        }

        return null;
    }

    private static uint ToUInt(IPAddress ip)
    {
        var b = ip.GetAddressBytes();
        return ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
    }

    private static IPAddress FromUInt(uint v) => new([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);
}
