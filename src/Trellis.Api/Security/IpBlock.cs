using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace Trellis.Api.Security;

/// <summary>
/// An address or CIDR block of an AuthorizationPolicy (<c>ipBlocks</c>, <c>source.ip</c>): <c>10.1.2.3</c>,
/// <c>10.0.0.0/8</c>, <c>::1</c>. Host bits below the prefix are ignored, as Go's <c>net.ParseCIDR</c> (istiod) does.
/// An IPv4 block also matches the IPv4-mapped IPv6 form of its addresses (a dual-mode socket reports those).
/// </summary>
public readonly struct IpBlock
{
    private readonly IPNetwork _network;

    private IpBlock(IPNetwork network) => _network = network;

    public static bool TryParse(string? text, [NotNullWhen(true)] out IpBlock? block)
    {
        block = null;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var slash = text.IndexOf('/');
        if (!IPAddress.TryParse(slash < 0 ? text : text[..slash], out var address))
        {
            return false;
        }

        var bits = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128;
        var prefix = bits;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out prefix) || prefix > bits))
        {
            return false;
        }

        // Clear the host bits, so IPNetwork accepts it.
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        block = new IpBlock(new IPNetwork(new IPAddress(bytes), prefix));
        return true;
    }

    public bool Contains(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6 && _network.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            address = address.MapToIPv4();
        }

        return _network.Contains(address);
    }
}
